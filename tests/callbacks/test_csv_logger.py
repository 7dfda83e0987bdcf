"""CSVLogger: rows read back with the csv module."""

import csv

import pytest

from lamina.callbacks import CSVLogger


def read(path, delimiter=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def run(logger, rows, first_epoch=0):
    logger.on_train_begin()
    for epoch, logs in enumerate(rows, start=first_epoch):
        logger.on_epoch_end(epoch, dict(logs))
    logger.on_train_end()


def test_one_row_per_epoch_with_header_from_the_first_epoch(tmp_path):
    path = tmp_path / "log.csv"
    run(CSVLogger(path), [{"loss": 0.5, "val_loss": 0.75}, {"val_loss": 0.25, "loss": 0.125}])
    assert read(path) == [["epoch", "loss", "val_loss"], ["0", "0.5", "0.75"],
                          ["1", "0.125", "0.25"]]


def test_missing_keys_are_na_and_new_keys_are_left_out(tmp_path):
    path = tmp_path / "log.csv"
    run(CSVLogger(path), [{"loss": 0.5, "lr": 0.1}, {"loss": 0.25, "extra": 1.0}])
    assert read(path) == [["epoch", "loss", "lr"], ["0", "0.5", "0.1"], ["1", "0.25", "NA"]]


def test_each_row_is_flushed_at_once(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5})
    assert read(path) == [["epoch", "loss"], ["0", "0.5"]]  # before on_train_end
    logger.on_train_end()


def test_separator(tmp_path):
    path = tmp_path / "log.tsv"
    run(CSVLogger(path, separator="\t"), [{"loss": 0.5}])
    assert read(path, "\t") == [["epoch", "loss"], ["0", "0.5"]]


def test_without_append_the_file_is_replaced(tmp_path):
    path = tmp_path / "log.csv"
    run(CSVLogger(path), [{"loss": 0.5}])
    run(CSVLogger(path), [{"loss": 0.25}])
    assert read(path) == [["epoch", "loss"], ["0", "0.25"]]


def test_append_keeps_the_existing_header(tmp_path):
    path = tmp_path / "log.csv"
    run(CSVLogger(path), [{"loss": 0.5, "acc": 0.1}])
    run(CSVLogger(path, append=True), [{"acc": 0.2, "loss": 0.25}], first_epoch=1)
    assert read(path) == [["epoch", "loss", "acc"], ["0", "0.5", "0.1"], ["1", "0.25", "0.2"]]


def test_resume_from_state_dict_appends(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    run(logger, [{"loss": 0.5}])
    resumed = CSVLogger(path)  # append=False, but resuming extends the file
    resumed.load_state_dict(logger.state_dict())
    run(resumed, [{"loss": 0.25}], first_epoch=1)
    assert read(path) == [["epoch", "loss"], ["0", "0.5"], ["1", "0.25"]]
    assert logger.state_dict() == {"keys": ["loss"]}


def test_bad_separator():
    with pytest.raises(ValueError, match=r"`separator` of CSVLogger must be one character"):
        CSVLogger("log.csv", separator=";;")


def test_fit_logs_every_epoch(tmp_path, model, data):
    path = tmp_path / "log.csv"
    model.fit(*data, batch_size=8, epochs=3, verbose=0, validation_data=data,
                     callbacks=[CSVLogger(path)])
    rows = read(path)
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert all(float(v) >= 0 for r in rows[1:] for v in r[1:])
