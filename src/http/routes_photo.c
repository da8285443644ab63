/* routes_photo.c - the photos of a case: upload, list, view (every view
 * audited).  The parsing and the files are src/photo/photo.h's. */
#include "http/http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/case.h"
#include "clock/clock.h"
#include "photo/photo.h"
#include "util/jsonw.h"

static void photo_json(struct jsonw *w, const struct photo_row *p)
{
    char iso[32];
    time_format_iso(p->created_ns / 1000000000LL, dclock_tz_offset_minutes(),
                    iso);
    jsonw_object_begin(w);
    jsonw_kv_str(w, "id", p->id);
    jsonw_kv_int(w, "case_id", p->case_id);
    jsonw_kv_str(w, "visit_id", p->visit_id);
    jsonw_kv_str(w, "content_type", p->content_type);
    jsonw_kv_int(w, "bytes", p->bytes);
    jsonw_kv_str(w, "created", iso);
    jsonw_kv_str(w, "who", p->who);
    jsonw_object_end(w);
}

/* Whose quota an upload by who counts in. */
static void quota_unit_of(const struct token_info *who, char *out, size_t cap)
{
    if (who->role == ROLE_COMMITTEE)
        snprintf(out, cap, "committee:%s", who->committee);
    else if (who->role == ROLE_DEPARTMENT)
        snprintf(out, cap, "department:%lld", (long long)who->department_id);
    else
        snprintf(out, cap, "staff");
}

/* Checks the body against its Content-Type and strips it into clean;
 * replies 415 and returns -1 when it is not the JPEG or PNG it says. */
static int photo_clean(struct request *req, struct sbuf *clean,
                       enum photo_type *OUT_type)
{
    char err[160];
    const char *ct = req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    enum photo_type declared = photo_type_parse(ct);
    if (declared == PHOTO_NONE) {
        reply_error(req, 415, "Content-Type must be image/jpeg or image/png");
        return -1;
    }
    if (photo_strip((const unsigned char *)req->body.buf, req->body.len, clean,
                    OUT_type, err, sizeof(err))) {
        reply_error(req, 415, "not a valid JPEG or PNG: %s", err);
        return -1;
    }
    if (*OUT_type != declared) {
        reply_error(req, 415, "the body is %s but Content-Type says %s",
                    photo_content_type(*OUT_type),
                    photo_content_type(declared));
        return -1;
    }
    return 0;
}

/* Fills p for an upload of clean (of type t) on case c. */
static int photo_row_new(struct request *req, const struct case_row *c,
                         enum photo_type t, size_t bytes, struct photo_row *p)
{
    const char *visit = req_arg(req, "visit_id");
    memset(p, 0, sizeof(*p));
    if (visit && (!*visit || strlen(visit) >= sizeof(p->visit_id))) {
        reply_error(req, 400, "parameter 'visit_id': 1-128 bytes");
        return -1;
    }
    if (photo_new_id(p->id)) {
        reply_error(req, 503, "no randomness for a photo id");
        return -1;
    }
    p->case_id = c->id;
    snprintf(p->visit_id, sizeof(p->visit_id), "%s", visit ? visit : "");
    snprintf(p->content_type, sizeof(p->content_type), "%s",
             photo_content_type(t));
    p->bytes = (int64_t)bytes;
    p->created_ns = dclock_now_ns();
    p->token_id = req->who.id;
    snprintf(p->who, sizeof(p->who), "%s", req->who.name);
    quota_unit_of(&req->who, p->quota_unit, sizeof(p->quota_unit));
    return 0;
}

/* Stores the file and then its row; replies and returns -1 on failure
 * (the file removed again). */
static int photo_store(struct request *req, const struct photo_row *p,
                       enum photo_type t, const struct sbuf *clean)
{
    const char *dir = req->srv->cfg->data_dir;
    int64_t used = 0, quota = (int64_t)req->srv->cfg->photo_quota_mb << 20;
    int rc = photo_save(dir, p->id, t, clean->buf, clean->len);
    if (rc) {
        log_msg(LOG_ERROR, "photo", "cannot save a photo | error=\"%s\"",
                cb_strerror(rc));
        reply_error(req, cb_errno(rc) == ENOSPC ? 507 : 500,
                    "cannot save the photo: %s", cb_strerror(rc));
        return -1;
    }
    rc = store_photo_insert(req->srv->store, p, quota, &used);
    if (!rc)
        return 0;
    photo_remove(dir, p->id, t);
    if (rc == CB_ETOOBIG)
        reply_error(req, 507,
                    "the photo quota of '%s' is full: %lld of %lld bytes "
                    "used (setting photo_quota_mb)",
                    p->quota_unit, (long long)used, (long long)quota);
    else
        reply_error(req, 500, "cannot store the photo");
    return -1;
}

void route_case_photo_upload(struct request *req)
{
    struct case_row c;
    struct photo_row p;
    struct sbuf clean;
    enum photo_type t;
    char object[128];
    if (case_for_caller(req, &c)) {
        if (req->status == 403)
            audit_denied(req, "photo.upload", req->param);
        return;
    }
    sbuf_init(&clean);
    if (photo_clean(req, &clean, &t) ||
        photo_row_new(req, &c, t, clean.len, &p) ||
        photo_store(req, &p, t, &clean))
        goto out_release;
    snprintf(object, sizeof(object), "case=%lld photo=%s", (long long)c.id,
             p.id);
    if (audit_read(req, "photo.upload", object) == 0) {
        struct jsonw w;
        jsonw_init(&w, &req->out);
        photo_json(&w, &p);
        reply_json(req, 201);
    }
out_release:
    sbuf_release(&clean);
}

struct photo_list {
    struct jsonw *w;
};

static void photo_list_fn(void *ctx, const struct photo_row *p)
{
    struct photo_list *l = ctx;
    photo_json(l->w, p);
}

void route_case_photos(struct request *req)
{
    struct case_row c;
    struct jsonw w;
    struct photo_list l = {&w};
    char object[64];
    if (case_for_caller(req, &c)) {
        if (req->status == 403)
            audit_denied(req, "photo.list", req->param);
        return;
    }
    jsonw_init(&w, &req->out);
    jsonw_array_begin(&w);
    if (store_scan_case_photos(req->srv->store, c.id, photo_list_fn, &l)) {
        reply_error(req, 500, "cannot list the photos");
        return;
    }
    jsonw_array_end(&w);
    snprintf(object, sizeof(object), "case=%lld", (long long)c.id);
    if (audit_read(req, "photo.list", object) == 0)
        reply_json(req, 200);
}

/* The {} segment as a photo of a case the caller may see; otherwise
 * replies (404, or 403 for a committee or department token whatever the
 * reason, so that ids are no oracle; refusals audited) and returns -1. */
static int photo_for_caller(struct request *req, struct photo_row *OUT)
{
    struct case_row c;
    int scoped =
        req->who.role == ROLE_COMMITTEE || req->who.role == ROLE_DEPARTMENT;
    int rc = photo_id_valid(req->param)
                 ? store_photo_get(req->srv->store, req->param, OUT)
                 : CB_ENOTFOUND;
    if (!rc)
        rc = store_case_get(req->srv->store, OUT->case_id, &c);
    if (!rc && !case_visible(req->srv->store, &req->who, &c))
        rc = CB_EPERM;
    if (!rc)
        return 0;
    if (rc == CB_EPERM || (rc == CB_ENOTFOUND && scoped)) {
        audit_denied(req, "photo.read", req->param);
        reply_error(req, 403, "photo '%s' is not one of yours", req->param);
    } else if (rc == CB_ENOTFOUND) {
        reply_error(req, 404, "no photo '%s'", req->param);
    } else {
        reply_error(req, 500, "cannot read the photo");
    }
    return -1;
}

void route_photo_get(struct request *req)
{
    struct photo_row p;
    char object[128];
    if (photo_for_caller(req, &p))
        return;
    enum photo_type t = photo_type_parse(p.content_type);
    snprintf(object, sizeof(object), "photo=%s case=%lld", p.id,
             (long long)p.case_id);
    if (audit_read(req, "photo.read", object))
        return;
    sbuf_reset(&req->out);
    int rc = photo_load(req->srv->cfg->data_dir, p.id, t, &req->out);
    if (rc) {
        log_msg(LOG_ERROR, "photo",
                "cannot read a photo | photo=%s error=\"%s\"", p.id,
                cb_strerror(rc));
        reply_error(req, 500, "cannot read the photo's file");
        return;
    }
    /* a photo from inside a flat: kept out of shared caches and the
     * browser's disk, and never sniffed as anything but an image */
    req->stream = MHD_create_response_from_buffer(req->out.len, req->out.buf,
                                                  MHD_RESPMEM_MUST_COPY);
    if (!req->stream) {
        reply_error(req, 500, "cannot answer");
        return;
    }
    MHD_add_response_header(req->stream, "Cache-Control", "private, no-store");
    MHD_add_response_header(req->stream, "X-Content-Type-Options", "nosniff");
    req->status = 200;
    req->content_type = photo_content_type(t);
}
