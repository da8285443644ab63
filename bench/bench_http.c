/* bench/bench_http.c - see bench_http.h. */
#include "bench_http.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int bench_http_connect(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        close(fd);
        return -1;
    }
    return fd;
}

int bench_http_send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int bench_http_read_response(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    char *end = NULL;
    while (!(end = memmem(buf, n, "\r\n\r\n", 4))) {
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0)
            return -1;
        n += (size_t)r;
    }
    buf[n] = '\0';
    int status = atoi(buf + 9);
    char *cl = strcasestr(buf, "content-length:");
    size_t body = cl ? (size_t)atol(cl + 15) : 0;
    size_t have = n - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t r = read(fd, buf, cap - 1);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    return status;
}
