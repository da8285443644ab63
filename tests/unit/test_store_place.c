/*
 * test_store_place.c - placing events at the committee of the nearest
 * registered building or household (store_place_event).
 */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_store_fixture.h"

#include <math.h>

#define M_LAT (1.0 / 111320.0) /* degrees of latitude per metre */

static void put_household(struct store *st, const char *id,
                          const char *committee, const char *building,
                          double lat, double lon)
{
    struct ingest_batch b;
    batch_new(&b, FEED_REGISTRY, 1);
    b.households[0] = (struct household){.household_id = id,
                                         .street = "洋泾街道",
                                         .committee = committee,
                                         .building = building,
                                         .lat = lat,
                                         .lon = lon,
                                         .area_m2 = 60,
                                         .rooms = 2,
                                         .registered_occupants = 2};
    struct store_write_result res;
    assert_int_equal(store_write(st, &b, "registry", &res), 0);
    assert_int_equal(res.accepted, 1);
    ingest_batch_release(&b);
}

static const char *place(struct store *st, double lat, double lon, double max_m)
{
    static char name[STORE_NAME_MAX + 1];
    if (store_place_event(st, lat, lon, max_m, name, sizeof(name)))
        return "(unplaced)";
    return name;
}

static void test_place_nearest(void **state)
{
    struct fixture *fx = fx_new(50);
    const double lat = 31.2300, lon = 121.5000;
    assert_string_equal(place(fx->st, lat, lon, 1000), "(unplaced)");
    /* building 1 of A: two households 20 m apart, centroid at lat/lon */
    put_household(fx->st, "H1", "A", "1", lat - 10 * M_LAT, lon);
    put_household(fx->st, "H2", "A", "1", lat + 10 * M_LAT, lon);
    /* committee B: a building 300 m north; a household without one 600 m
     * south */
    put_household(fx->st, "H3", "B", "7", lat + 300 * M_LAT, lon);
    put_household(fx->st, "H4", "C", NULL, lat - 600 * M_LAT, lon);
    assert_string_equal(place(fx->st, lat, lon, 1000), "A");
    assert_string_equal(place(fx->st, lat + 200 * M_LAT, lon, 1000), "B");
    assert_string_equal(place(fx->st, lat + 1200 * M_LAT, lon, 1000), "B");
    assert_string_equal(place(fx->st, lat - 500 * M_LAT, lon, 1000), "C");
    /* beyond the limit, or no position */
    assert_string_equal(place(fx->st, lat + 1400 * M_LAT, lon, 1000),
                        "(unplaced)");
    assert_string_equal(place(fx->st, lat - 1700 * M_LAT, lon, 1000),
                        "(unplaced)");
    assert_string_equal(place(fx->st, lat + 400 * M_LAT, lon, 50),
                        "(unplaced)");
    assert_string_equal(place(fx->st, NAN, lon, 1000), "(unplaced)");
    assert_string_equal(place(fx->st, 0, 0, 1000), "(unplaced)");
    /* east-west too: 0.01 degrees of longitude is ~950 m here */
    assert_string_equal(place(fx->st, lat, lon + 0.009, 1000), "A");
    assert_string_equal(place(fx->st, lat, lon + 0.0115, 1000), "(unplaced)");
    char small[2];
    assert_int_equal(store_place_event(fx->st, lat, lon, 1000, small, 2), 0);
    assert_string_equal(small, "A");
    fx_free(fx);
}

static void test_place_follows_registry(void **state)
{
    struct fixture *fx = fx_new(50);
    const double lat = 31.2300, lon = 121.5000;
    put_household(fx->st, "H1", "A", "1", lat, lon);
    put_household(fx->st, "H2", "B", "2", lat + 800 * M_LAT, lon);
    put_household(fx->st, "H3", "C", NULL, lat - 800 * M_LAT, lon);
    assert_string_equal(place(fx->st, lat + 300 * M_LAT, lon, 1000), "A");
    /* H1 moves 600 m east: its building's entry moves with it */
    const double east = 600 * M_LAT / cos(lat * M_PI / 180);
    put_household(fx->st, "H1", "A", "1", lat, lon + east);
    assert_string_equal(place(fx->st, lat, lon, 500), "(unplaced)");
    assert_string_equal(place(fx->st, lat, lon + east, 1000), "A");
    assert_string_equal(place(fx->st, lat + 300 * M_LAT, lon, 1000), "B");
    /* H3 (no building) joins committee D and moves next to the event */
    put_household(fx->st, "H3", "D", NULL, lat + 250 * M_LAT, lon);
    assert_string_equal(place(fx->st, lat + 300 * M_LAT, lon, 1000), "D");
    assert_string_equal(place(fx->st, lat - 800 * M_LAT, lon, 500),
                        "(unplaced)");
    assert_string_equal(place(fx->st, lat - 1300 * M_LAT, lon, 1000),
                        "(unplaced)");
    /* a household with no committee */
    put_household(fx->st, "H5", NULL, NULL, lat + 2000 * M_LAT, lon);
    assert_int_equal(
        store_place_event(fx->st, lat + 2000 * M_LAT, lon, 1000, NULL, 0), 0);
    assert_string_equal(place(fx->st, lat + 2000 * M_LAT, lon, 1000), "");
    /* the grid is rebuilt from the registry at open */
    fx_reopen(fx);
    assert_string_equal(place(fx->st, lat + 300 * M_LAT, lon, 1000), "D");
    assert_string_equal(place(fx->st, lat, lon + east, 1000), "A");
    assert_string_equal(place(fx->st, lat - 400 * M_LAT, lon, 500),
                        "(unplaced)");
    assert_string_equal(place(fx->st, lat + 800 * M_LAT, lon, 1000), "B");
    fx_free(fx);
}

/* Many buildings on a grid: every query finds the nearest, as a full scan
 * would. */
static void test_place_many(void **state)
{
    struct fixture *fx = fx_new(50);
    const double lat = 31.2000, lon = 121.5000, step = 0.0013;
    enum { N = 30 };
    struct ingest_batch b;
    batch_new(&b, FEED_REGISTRY, N * N);
    static char ids[N * N][16], names[N * N][16];
    for (int i = 0; i < N * N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "G%d", i);
        snprintf(names[i], sizeof(names[i]), "C%d", i);
        b.households[i] = (struct household){.household_id = ids[i],
                                             .street = "洋泾街道",
                                             .committee = names[i],
                                             .building = "1",
                                             .lat = lat + (i / N) * step,
                                             .lon = lon + (i % N) * step};
    }
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "registry", &res), 0);
    ingest_batch_release(&b);
    double ky = cos(lat * M_PI / 180);
    for (int q = 0; q < 500; q++) {
        double qlat = lat - 0.002 + (q * 7919 % 1000) * 0.0000425;
        double qlon = lon - 0.002 + (q * 104729 % 1000) * 0.0000425;
        int best = -1;
        double bd = INFINITY;
        for (int i = 0; i < N * N; i++) {
            /* as stored: float degrees */
            double dx = (double)(float)(lat + (i / N) * step) - qlat;
            double dy = ((double)(float)(lon + (i % N) * step) - qlon) * ky;
            double d = dx * dx + dy * dy;
            if (d < bd)
                bd = d, best = i;
        }
        const char *got = place(fx->st, qlat, qlon, 5000);
        assert_string_equal(got, names[best]);
    }
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_nearest),
        cmocka_unit_test(test_place_follows_registry),
        cmocka_unit_test(test_place_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
