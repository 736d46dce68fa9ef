/* Workload generators of ringkv-bench: a per-worker xoshiro256** generator (seeded through
 * splitmix64), uniform and zipf key choice, and the key format. Pure functions over state
 * the caller owns; nothing global. */
#include <math.h>

#include "bench/bench.h"
#include "core/assert.h"

static uint64_t rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void bench_rng_seed(struct bench_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = rng_splitmix(&seed);
}

uint64_t bench_rng_next(struct bench_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rng_rotl(s[1] * 5u, 7) * 9u;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return result;
}

uint64_t bench_rng_below(struct bench_rng *r, uint64_t n)
{
    RKV_ASSERT(n > 0);
    __extension__ typedef unsigned __int128 rng_u128; /* GCC and clang have it on 64-bit targets */
    return (uint64_t)(((rng_u128)bench_rng_next(r) * n) >> 64);
}

double bench_rng_unit(struct bench_rng *r)
{
    return (double)(bench_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- zipf by rejection-inversion ----
 * h(x) = x^-theta is the continuous hat of the probabilities 1/k^theta, H its integral
 * (H(x) = (x^(1-theta) - 1) / (1 - theta), written with expm1/log1p so theta near 1 keeps
 * its precision), and H^-1 its inverse. A draw inverts H at a uniform point between
 * H(n + 0.5) and H(1.5) - h(1), rounds to the nearest rank k, and accepts k when the point
 * lies under the step of k's probability. */

/* log1p(x) / x, continuous at 0. */
static double zipf_helper1(double x)
{
    if (fabs(x) > 1e-8)
        return log1p(x) / x;
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

/* expm1(x) / x, continuous at 0. */
static double zipf_helper2(double x)
{
    if (fabs(x) > 1e-8)
        return expm1(x) / x;
    return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

static double zipf_h(double theta, double x)
{
    return exp(-theta * log(x));
}

static double zipf_h_integral(double theta, double x)
{
    double log_x = log(x);
    return zipf_helper2((1.0 - theta) * log_x) * log_x;
}

static double zipf_h_integral_inverse(double theta, double x)
{
    double t = x * (1.0 - theta);
    if (t < -1.0)
        t = -1.0; /* rounding near the end of the range; H^-1 is defined from -1 on */
    return exp(zipf_helper1(t) * x);
}

void bench_zipf_init(struct bench_zipf *z, uint64_t n, double theta)
{
    RKV_ASSERT(n >= 1);
    RKV_ASSERT(theta > 0.0);
    z->n = n;
    z->theta = theta;
    z->h_integral_x1 = zipf_h_integral(theta, 1.5) - 1.0;
    z->h_integral_n = zipf_h_integral(theta, (double)n + 0.5);
    z->s = 2.0 - zipf_h_integral_inverse(theta, zipf_h_integral(theta, 2.5) - zipf_h(theta, 2.0));
}

uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r)
{
    uint64_t k = 1;
    for (uint32_t tries = 0; tries < BENCH_ZIPF_TRIES_MAX; tries++) {
        double u = z->h_integral_n + bench_rng_unit(r) * (z->h_integral_x1 - z->h_integral_n);
        double x = zipf_h_integral_inverse(z->theta, u);
        double kd = floor(x + 0.5);
        k = kd < 1.0 ? 1 : kd > (double)z->n ? z->n : (uint64_t)kd;
        if ((double)k - x <= z->s || u >= zipf_h_integral(z->theta, (double)k + 0.5) - zipf_h(z->theta, (double)k))
            return k;
    }
    /* Not reached in practice (acceptance is about 90 % per draw); the last candidate is
     * still a rank in range. */
    return k;
}

void bench_key_format(uint64_t idx, uint8_t out[BENCH_KEY_BYTES])
{
    RKV_ASSERT(idx < BENCH_KEYS_MAX);
    static const char prefix[] = BENCH_KEY_PREFIX;
    for (size_t i = 0; i < sizeof(prefix) - 1u; i++)
        out[i] = (uint8_t)prefix[i];
    for (uint32_t i = 0; i < BENCH_KEY_DIGITS; i++) {
        out[BENCH_KEY_BYTES - 1u - i] = (uint8_t)('0' + idx % 10u);
        idx /= 10u;
    }
}
