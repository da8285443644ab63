/*
 * csv.c - an RFC 4180 record reader over a request body.
 *
 * Cells are separated by ',' and records by LF or CRLF.  A cell that starts
 * with '"' (after optional spaces) is quoted: it runs to the next lone '"',
 * may hold commas and line breaks, and writes a quote as "".  Only spaces
 * and tabs may follow its closing quote.  A '"' inside an unquoted cell is
 * kept as text, as most spreadsheet exports expect.  Unquoted cells are
 * trimmed of spaces and tabs; quoted cells are kept exactly.  Blank lines
 * are skipped.  Cells point into the body unless a doubled quote had to be
 * undone, in which case they point into the arena.
 */
#include "ingest/ingest_int.h"

#include <string.h>

void ingest__csv_init(struct csv_reader *r, const char *body, size_t len,
                      struct arena *arena)
{
    memset(r, 0, sizeof(*r));
    r->body = body;
    r->len = len;
    r->arena = arena;
    r->line = 1;
    if (len >= 3 && !memcmp(body, "\xEF\xBB\xBF", 3))
        r->pos = r->line_start = 3;
}

static int csv_fail(struct csv_reader *r, size_t at, const char *msg)
{
    r->err_line = r->line;
    r->err_col = (int32_t)(at - r->line_start) + 1;
    r->err_msg = msg;
    /* Resume at the next line. */
    const char *nl = memchr(r->body + r->pos, '\n', r->len - r->pos);
    r->pos = nl ? (size_t)(nl - r->body) + 1 : r->len;
    if (nl) {
        r->line++;
        r->line_start = r->pos;
    }
    return -1;
}

static void add_cell(struct csv_reader *r, const char *s, size_t len,
                     int32_t line, int32_t col, int quoted)
{
    if (r->n < CSV_MAX_CELLS) {
        struct csv_cell *c = &r->cells[r->n];
        c->s = s;
        c->len = len;
        c->line = line;
        c->col = col;
        c->quoted = quoted;
    }
    r->n++;
}

/* Undoes the doubled quotes of a quoted cell into the arena. */
static const char *unquote(struct csv_reader *r, const char *s, size_t len,
                           size_t *OUT_len)
{
    char *out = arena_alloc(r->arena, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        out[o++] = s[i];
        if (s[i] == '"')
            i++;
    }
    out[o] = '\0';
    *OUT_len = o;
    return out;
}

/* Reads a quoted cell whose opening quote is at r->pos. */
static int quoted_cell(struct csv_reader *r)
{
    size_t open = r->pos, i = open + 1;
    int32_t line = r->line, col = (int32_t)(open - r->line_start) + 1;
    size_t open_line_start = r->line_start;
    int doubled = 0;
    for (;; i++) {
        if (i >= r->len) {
            r->line = line;
            r->line_start = open_line_start;
            r->pos = r->len;
            return csv_fail(r, open, "unterminated quoted cell");
        }
        if (r->body[i] == '\n') {
            r->line++;
            r->line_start = i + 1;
        } else if (r->body[i] == '"') {
            if (i + 1 < r->len && r->body[i + 1] == '"') {
                doubled = 1;
                i++;
                continue;
            }
            break;
        }
    }
    const char *s = r->body + open + 1;
    size_t len = i - open - 1;
    if (doubled)
        s = unquote(r, s, len, &len);
    r->pos = i + 1;
    while (r->pos < r->len &&
           (r->body[r->pos] == ' ' || r->body[r->pos] == '\t'))
        r->pos++;
    if (r->pos < r->len && r->body[r->pos] != ',' && r->body[r->pos] != '\n' &&
        !(r->body[r->pos] == '\r' &&
          (r->pos + 1 == r->len || r->body[r->pos + 1] == '\n')))
        return csv_fail(r, r->pos, "unexpected text after a closing quote");
    add_cell(r, s, len, line, col, 1);
    return 0;
}

/* Reads an unquoted cell starting at r->pos (spaces already skipped). */
static void plain_cell(struct csv_reader *r)
{
    size_t start = r->pos, i = start;
    while (i < r->len && r->body[i] != ',' && r->body[i] != '\n')
        i++;
    r->pos = i;
    size_t end = i;
    if (end > start && (i == r->len || r->body[i] == '\n') &&
        r->body[end - 1] == '\r')
        end--;
    while (end > start && (r->body[end - 1] == ' ' || r->body[end - 1] == '\t'))
        end--;
    add_cell(r, r->body + start, end - start, r->line,
             (int32_t)(start - r->line_start) + 1, 0);
}

/* Reads one record, blank or not; 1 or -1. */
static int csv_record(struct csv_reader *r)
{
    r->n = 0;
    r->record_line = r->line;
    for (;;) {
        while (r->pos < r->len &&
               (r->body[r->pos] == ' ' || r->body[r->pos] == '\t'))
            r->pos++;
        if (r->pos < r->len && r->body[r->pos] == '"') {
            if (quoted_cell(r))
                return -1;
        } else {
            plain_cell(r);
        }
        if (r->pos < r->len && r->body[r->pos] == '\r')
            r->pos++;
        if (r->pos >= r->len)
            return 1;
        if (r->body[r->pos] == '\n') {
            r->pos++;
            r->line++;
            r->line_start = r->pos;
            return 1;
        }
        r->pos++; /* the ',' */
    }
}

int ingest__csv_next(struct csv_reader *r)
{
    while (r->pos < r->len) {
        int rc = csv_record(r);
        if (rc < 0)
            return -1;
        if (r->n == 1 && !r->cells[0].quoted && r->cells[0].len == 0)
            continue; /* blank line */
        return 1;
    }
    return 0;
}
