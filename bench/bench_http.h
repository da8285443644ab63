/*
 * bench/bench_http.h - the few lines of HTTP/1.1 over a keep-alive socket
 * that the benchmark clients (ingest_client.c, sidebyside_client.c) share.
 * No TLS, no chunked bodies: what citybrain's loopback answers need.
 */
#ifndef BENCH_HTTP_H
#define BENCH_HTTP_H

#include <stddef.h>

/* A TCP connection to host:port with Nagle off; the fd, or -1. */
int bench_http_connect(const char *host, int port);

/* Writes all n bytes; 0, or -1 when the socket fails. */
int bench_http_send_all(int fd, const char *p, size_t n);

/* Reads one response (headers into buf, the body by Content-Length, read
 * and dropped); its status, or -1 when the connection fails. */
int bench_http_read_response(int fd, char *buf, size_t cap);

#endif
