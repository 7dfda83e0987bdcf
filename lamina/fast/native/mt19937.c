/* The Mersenne twister (MT19937) of PyTorch's CPU generator, written so that a C compiler
 * vectorizes it: the same 32-bit numbers as torch.rand, several at a time.
 *
 * The state is the one torch.Generator.get_state() returns on the CPU: 624 words (each
 * stored in 64 bits), `left` (numbers until the next twist, plus one) and `next` (the index
 * of the next word). One number is drawn the way PyTorch draws it:
 *     if (--left == 0) { twist(); left = 624; next = 0; }   y = temper(state[next++]);
 * and a float uniform in [0, 1) keeps the low 24 bits: (y & 0xFFFFFF) * 2^-24.
 *
 * The twist, new[i] = old[i + 397] ^ A(upper bit of old[i], lower 31 bits of old[i + 1]),
 * runs as three loops whose iterations are independent (the third reads what the first
 * wrote, 227 words back), so each becomes vector code; tempering and the conversion
 * to float are element-wise.
 */
#include <stdint.h>

#define N 624
#define M 397

static inline uint32_t twist(uint32_t u, uint32_t v) {
    uint32_t y = (u & 0x80000000u) | (v & 0x7fffffffu);
    return (y >> 1) ^ ((0u - (y & 1u)) & 0x9908b0dfu);
}

static void next_state(uint32_t *mt) {
    int i;
    for (i = 0; i < N - M; i++)
        mt[i] = mt[i + M] ^ twist(mt[i], mt[i + 1]);
    for (; i < N - 1; i++)
        mt[i] = mt[i + M - N] ^ twist(mt[i], mt[i + 1]);
    mt[N - 1] = mt[M - 1] ^ twist(mt[N - 1], mt[0]);
}

/* Fill out[0..n) with torch.rand's float32 numbers and advance the state as PyTorch would.
 * words: the 624 state words as 64-bit integers; left, next: the counters, read and written. */
void lamina_mt19937_uniform_float(uint64_t *words, int32_t *left, uint64_t *next,
                                  float *out, int64_t n) {
    uint32_t mt[N];
    for (int i = 0; i < N; i++)
        mt[i] = (uint32_t)words[i];
    int64_t l = *left, p = (int64_t)*next, done = 0;
    while (done < n) {
        if (l == 1) {                       /* the next number needs a twist first */
            next_state(mt);
            l = N + 1;
            p = 0;
        }
        int64_t take = l - 1 < n - done ? l - 1 : n - done;
        const uint32_t *src = mt + p;
        float *dst = out + done;
        for (int64_t j = 0; j < take; j++) {
            uint32_t y = src[j];
            y ^= y >> 11;
            y ^= (y << 7) & 0x9d2c5680u;
            y ^= (y << 15) & 0xefc60000u;
            y ^= y >> 18;
            dst[j] = (float)(y & 0xffffffu) * (1.0f / 16777216.0f);
        }
        l -= take;
        p += take;
        done += take;
    }
    for (int i = 0; i < N; i++)
        words[i] = mt[i];
    *left = (int32_t)l;
    *next = (uint64_t)p;
}
