/* An epoll echo that counts what it receives per millisecond of CLOCK_REALTIME
 * (benchmarks/open_loop_rate.py: what a target got in the generator's window).
 *
 *     count_echo PORT OUT
 *
 * One thread, level-triggered epoll, TCP_NODELAY, 127.0.0.1 only. Every read is echoed
 * at once and its bytes added to the bin of the millisecond it returned in. On SIGTERM
 * the bins that received anything go to OUT as "ms bytes" lines. Prints READY once
 * listening. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BINS (1 << 20) /* about 17 minutes of milliseconds */

static volatile sig_atomic_t stopping = 0;
static void on_term(int sig) { (void)sig; stopping = 1; }

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: count_echo PORT OUT\n"); return 2; }
    static int64_t bytes[BINS];
    int64_t first_ms = now_ms();
    struct sigaction sa = {0};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 4096)) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    printf("READY\n");
    fflush(stdout);
    struct epoll_event events[256];
    char buf[65536];
    while (!stopping) {
        int n = epoll_wait(ep, events, 256, 100);
        int64_t bin = now_ms() - first_ms;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int c;
                while ((c = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t got = read(fd, buf, sizeof buf);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                close(fd);
                continue;
            }
            if (bin >= 0 && bin < BINS) bytes[bin] += got;
            for (ssize_t off = 0; off < got;) {
                ssize_t put = write(fd, buf + off, got - off);
                if (put < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue; /* a loopback echo: spin */
                    break;
                }
                off += put;
            }
        }
    }
    FILE *out = fopen(argv[2], "w");
    if (!out) { perror("open"); return 1; }
    for (int64_t i = 0; i < BINS; i++)
        if (bytes[i]) fprintf(out, "%lld %lld\n", (long long)(first_ms + i), (long long)bytes[i]);
    fclose(out);
    return 0;
}
