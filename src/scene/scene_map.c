/*
 * scene_map.c - the scenes' map markers: the flats the published ranking
 * lists as suspects and the elderly-alone flats with an open alert, as
 * dense household ids with a kind, for the clustered map (map.h).  The
 * alerts are the flats scene_elderly_alerts_json lists as alerts, by the
 * same rule, so the map and the list agree; read without formatting the
 * list (its JSON grows with the district: ~10 ms at 200,000 households).
 */
#include "scene/scene_int.h"

#include <stdlib.h>
#include <string.h>

static void marker_add(struct scene_markers *mk, int32_t household,
                       uint8_t kind)
{
    if (mk->n == mk->cap) {
        mk->cap = mk->cap ? mk->cap * 2 : 1024;
        mk->households =
            xrealloc(mk->households, mk->cap * sizeof(*mk->households));
        mk->kinds = xrealloc(mk->kinds, mk->cap * sizeof(*mk->kinds));
    }
    mk->households[mk->n] = household;
    mk->kinds[mk->n++] = kind;
}

static void suspects_add(struct scene_engine *eng, const char *committee,
                         struct scene_markers *mk)
{
    struct scene_ranking *r = scene_ranking_get(eng);
    int64_t only = -1; /* committee name id, or -1: all */
    for (uint32_t k = 0; committee && k < r->n_committees; k++)
        if (!strcmp(scene_display_name(r->committee_names[k]), committee))
            only = k;
    for (size_t i = 0; i < r->n && (!committee || only >= 0); i++) {
        const struct scene_suspect *s = &r->items[i];
        if (s->score < eng->cfg.min_score)
            continue;
        if (only < 0 || s->committee_id == only)
            marker_add(mk, s->household, SCENE_MARKER_SUSPECT);
    }
    scene_ranking_put(eng);
}

static void elderly_add(struct scene_engine *eng, const char *committee,
                        struct scene_markers *mk)
{
    int32_t *households;
    size_t n = scene_elderly_alert_households(eng, committee, &households);
    for (size_t i = 0; i < n; i++)
        marker_add(mk, households[i], SCENE_MARKER_ELDERLY);
    free(households);
}

void scene_map_markers(struct scene_engine *eng, const char *committee,
                       struct scene_markers *OUT_markers)
{
    memset(OUT_markers, 0, sizeof(*OUT_markers));
    suspects_add(eng, committee, OUT_markers);
    elderly_add(eng, committee, OUT_markers);
}

void scene_markers_release(struct scene_markers *mk)
{
    free(mk->households);
    free(mk->kinds);
    memset(mk, 0, sizeof(*mk));
}
