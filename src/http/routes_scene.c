/*
 * routes_scene.c - the scenes: group-rental suspects, summaries, the
 * household drill-down, visit feedback and precision; elderly alerts.
 *
 * Suspect lists, summaries and drill-downs are household-level data: each
 * response is audited with the household ids it carries, and a committee
 * token sees its own committee only (the filter is forced to it).  Visit
 * feedback re-fits the shared model, so a committee may give it only for
 * its own households, and each one is audited with the flat it names.
 */
#include "http/http_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scene/scene.h"

static int scenes_ready(struct request *req)
{
    if (req->srv->scenes)
        return 1;
    reply_error(req, 503, "the scene engine is not running");
    return 0;
}

/* The committee filter: a committee token is limited to its own. */
static const char *committee_filter(struct request *req)
{
    if (req->who.role == ROLE_COMMITTEE)
        return req->who.committee;
    return req_arg(req, "committee");
}

/* The optional min_score (0..1) and visited filter of a suspects query;
 * replies 400 and returns -1 when bad. */
static int suspect_filters(struct request *req, struct scene_suspect_query *q)
{
    const char *min = req_arg(req, "min_score");
    const char *visited = req_arg(req, "visited");
    q->min_score = -1;
    q->visit = SCENE_VISIT_ANY;
    if (min) {
        char *end;
        double v = strtod(min, &end);
        if (!*min || *end || !(v >= 0 && v <= 1)) {
            reply_error(req, 400,
                        "min_score must be a number from 0 to 1, got '%s'",
                        min);
            return -1;
        }
        q->min_score = v;
    }
    if (visited && (q->visit = scene_visit_filter_parse(visited)) < 0) {
        reply_error(req, 400,
                    "visited must be any, none, visited, confirmed, "
                    "not_found or no_access, got '%s'",
                    visited);
        return -1;
    }
    return 0;
}

void route_group_rental_suspects(struct request *req)
{
    if (!scenes_ready(req))
        return;
    int64_t limit;
    if (req_int_arg(req, "limit", 1, 10000, 100, &limit))
        return;
    struct scene_suspect_query q = {.limit = (int)limit,
                                    .street = req_arg(req, "street"),
                                    .committee = committee_filter(req)};
    if (suspect_filters(req, &q))
        return;
    char object[700];
    snprintf(object, sizeof(object),
             "scene:group-rental street=%s "
             "committee=%s",
             q.street ? q.street : "*", q.committee ? q.committee : "*");
    if (scene_group_rental_suspects_query_json(req->srv->scenes, &q, &req->out))
        reply_error(req, 500, "cannot list suspects");
    else if (audit_response(req, "scene.suspects", object) == 0)
        reply_json(req, 200);
}

/* Keeps only the committee token's own row of a by=committee summary. */
static int summary_own_rows(struct request *req)
{
    json_t *sum = json_loadb(req->out.buf, req->out.len, 0, NULL);
    json_t *groups = json_object_get(sum, "groups");
    if (!json_is_array(groups)) {
        json_decref(sum);
        return CB_EINVAL;
    }
    for (size_t i = json_array_size(groups); i-- > 0;) {
        const char *name = json_string_value(
            json_object_get(json_array_get(groups, i), "committee"));
        if (!name || strcmp(name, req->who.committee))
            json_array_remove(groups, i);
    }
    char *text = json_dumps(sum, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                     JSON_REAL_PRECISION(10));
    json_decref(sum);
    sbuf_reset(&req->out);
    sbuf_addstr(&req->out, text);
    free(text);
    return 0;
}

void route_group_rental_summary(struct request *req)
{
    if (!scenes_ready(req))
        return;
    const char *by = req_arg(req, "by");
    int own = req->who.role == ROLE_COMMITTEE;
    if (own && by && strcmp(by, "committee")) {
        reply_error(req, 403,
                    "a committee token sees its own committee's row only: "
                    "use by=committee");
        return;
    }
    if (!by)
        by = own ? "committee" : "street";
    if (scene_group_rental_summary_json(req->srv->scenes, by,
                                        req_arg(req, "street"), &req->out)) {
        reply_error(req, 400, "by must be 'street' or 'committee'");
        return;
    }
    if (own && summary_own_rows(req)) {
        reply_error(req, 500, "cannot build the summary");
        return;
    }
    char scope[400];
    snprintf(scope, sizeof(scope), "scene:group-rental summary by=%s", by);
    if (audit_response(req, "scene.summary", scope) == 0)
        reply_json(req, 200);
}

void route_group_rental_evidence(struct request *req)
{
    if (!scenes_ready(req))
        return;
    if (household_for_read(req, "scene.evidence") < 0)
        return;
    int rc = scene_group_rental_evidence_json(req->srv->scenes, req->param,
                                              &req->out);
    if (rc == CB_ENOTFOUND)
        reply_error(req, 404, "household '%s' is not scored yet", req->param);
    else if (rc)
        reply_error(req, 500, "cannot build the evidence");
    else
        reply_json(req, 200);
}

/* The household a feedback body names, checked against the caller like
 * a read (household_for_read) and audited with the flat; 0 when it may
 * go on.  A body without a household id is left to the scene's parser. */
static int feedback_household(struct request *req)
{
    json_t *body = json_loadb(req->body.buf, req->body.len, 0, NULL);
    const char *id = json_string_value(json_object_get(body, "household_id"));
    int rc = 0;
    if (id && strlen(id) < sizeof(req->param)) {
        snprintf(req->param, sizeof(req->param), "%s", id);
        rc = household_for_read(req, "scene.feedback") < 0 ? -1 : 0;
    } else if (id) {
        reply_error(req, 400, "field 'household_id': too long");
        rc = -1;
    }
    json_decref(body);
    return rc;
}

void route_group_rental_feedback(struct request *req)
{
    if (!scenes_ready(req))
        return;
    if (feedback_household(req))
        return;
    int rc = scene_group_rental_feedback_json(req->srv->scenes, req->body.buf,
                                              req->body.len, &req->out);
    if (rc == CB_EINVAL) {
        struct sbuf msg = SBUF_INIT;
        sbuf_init(&msg);
        sbuf_add(&msg, req->out.buf, req->out.len);
        reply_error(req, 400, "%s", msg.buf);
        sbuf_release(&msg);
    } else if (rc == CB_ENOTFOUND) {
        reply_error(req, 404, "unknown household in feedback");
    } else if (rc && rc != CB_EIO) {
        reply_error(req, 500, "feedback failed: %s", cb_strerror(rc));
    } else {
        reply_json(req, 200);
    }
}

void route_group_rental_precision(struct request *req)
{
    if (!scenes_ready(req))
        return;
    if (scene_group_rental_precision_json(req->srv->scenes, &req->out))
        reply_error(req, 500, "cannot report precision");
    else
        reply_json(req, 200);
}

void route_elderly_alerts(struct request *req)
{
    if (!scenes_ready(req))
        return;
    if (scene_elderly_alerts_json(req->srv->scenes, req_arg(req, "street"),
                                  committee_filter(req), &req->out))
        reply_error(req, 500, "cannot list alerts");
    else if (audit_response(req, "scene.elderly", "scene:elderly-alone") == 0)
        reply_json(req, 200);
}
