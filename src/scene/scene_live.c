/*
 * scene_live.c - the `scene` live event: after each re-score, the counts a
 * wall screen shows (suspects and open elderly alerts, per street), built
 * from the same JSON the API answers with, so the screen and the API
 * agree.  Published only when it differs from the last one sent, to the
 * staff roles (district-wide counts per street; no household ids).
 */
#include "scene/scene_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "live/live.h"

void scene_engine_set_live(struct scene_engine *eng, struct live *hub)
{
    eng->live = hub;
}

/* Adds n to the street's `key` in streets (an object of objects). */
static void street_add(json_t *streets, const char *street, const char *key,
                       json_int_t n)
{
    json_t *s = json_object_get(streets, street);
    if (!s) {
        s = json_pack("{s:I,s:I}", "suspects", (json_int_t)0, "elderly_alerts",
                      (json_int_t)0);
        json_object_set_new(streets, street, s);
    }
    json_object_set_new(
        s, key, json_integer(json_integer_value(json_object_get(s, key)) + n));
}

/* The event's JSON, or NULL when the scene's answers cannot be read. */
static char *scene_live_json(struct scene_engine *eng)
{
    struct sbuf sum = SBUF_INIT, eld = SBUF_INIT;
    sbuf_init(&sum);
    sbuf_init(&eld);
    char *data = NULL;
    json_t *js = NULL, *je = NULL;
    if (scene_group_rental_summary_json(eng, "street", NULL, &sum) ||
        scene_elderly_alerts_json(eng, NULL, NULL, &eld))
        goto out;
    js = json_loadb(sum.buf, sum.len, 0, NULL);
    je = json_loadb(eld.buf, eld.len, 0, NULL);
    if (!js || !je)
        goto out;
    json_t *streets = json_object();
    json_int_t suspects = 0, alerts = 0;
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(js, "groups"), i, g)
    {
        const char *name = json_string_value(json_object_get(g, "street"));
        json_int_t k = json_integer_value(json_object_get(g, "suspects"));
        suspects += k;
        if (name)
            street_add(streets, name, "suspects", k);
    }
    json_array_foreach(json_object_get(je, "alerts"), i, g)
    {
        const char *name = json_string_value(json_object_get(g, "street"));
        alerts++;
        if (name)
            street_add(streets, name, "elderly_alerts", 1);
    }
    json_t *ev = json_pack("{s:O,s:I,s:I,s:o}", "as_of",
                           json_object_get(js, "as_of"), "suspects", suspects,
                           "elderly_alerts", alerts, "streets", streets);
    data = ev ? json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(ev);
out:
    json_decref(js);
    json_decref(je);
    sbuf_release(&sum);
    sbuf_release(&eld);
    return data;
}

void scene_live_publish(struct scene_engine *eng)
{
    if (!eng->live)
        return;
    char *data = scene_live_json(eng);
    if (!data)
        return;
    pthread_mutex_lock(&eng->live_lock);
    int same = eng->live_last && !strcmp(eng->live_last, data);
    if (!same) {
        free(eng->live_last);
        eng->live_last = data;
        data = NULL;
        live_publish(eng->live, "scene", eng->live_last);
    }
    pthread_mutex_unlock(&eng->live_lock);
    free(data);
}
