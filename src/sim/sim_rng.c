/* sim_rng.c - the distributions the simulator draws from (see sim_int.h). */
#include "sim/sim_int.h"

#include <math.h>

double sim_rng_normal(struct sim_rng *r)
{
    double u1 = sim_rng_unit(r), u2 = sim_rng_unit(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double sim_rng_lognormal(struct sim_rng *r, double sigma)
{
    return exp(sigma * sim_rng_normal(r));
}

/* Knuth's product method below 30, a rounded normal above. */
uint32_t sim_rng_poisson(struct sim_rng *r, double lambda)
{
    if (lambda <= 0)
        return 0;
    if (lambda >= 30) {
        double v = lambda + sqrt(lambda) * sim_rng_normal(r) + 0.5;
        return v < 0 ? 0 : (uint32_t)v;
    }
    double limit = exp(-lambda), p = sim_rng_unit(r);
    uint32_t k = 0;
    while (p > limit) {
        p *= sim_rng_unit(r);
        k++;
    }
    return k;
}

int sim_rng_pick(struct sim_rng *r, const double *w, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += w[i];
    double u = sim_rng_unit(r) * sum;
    for (int i = 0; i < n; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}
