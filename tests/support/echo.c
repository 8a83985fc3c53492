/* A small TCP echo server for docs/models.md "your own server": one epoll thread,
 * level-triggered, non-blocking sockets. Usage: echo PORT [OUT].
 * Prints "listening on 127.0.0.1:PORT" (flushed) once it accepts; stops on SIGTERM.
 * With OUT it also adds each read's bytes to the bin of the CLOCK_REALTIME millisecond
 * it returned in, and at the stop writes the bins that got any to OUT as "ms bytes"
 * lines (benchmarks/open_loop_rate.py: what a target received in a run's window). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BINS (1 << 20) /* about 17 minutes of milliseconds */
static long long bytes_in[BINS];

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) { fprintf(stderr, "usage: %s PORT [OUT]\n", argv[0]); return 2; }
    const char *out = argc == 3 ? argv[2] : NULL;
    long long first_ms = now_ms();
    struct sigaction sa = {0};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4096)) {
        fprintf(stderr, "echo: cannot listen on port %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, events[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    printf("listening on 127.0.0.1:%s\n", argv[1]);
    fflush(stdout);
    static char buf[65536];
    while (!stop) {
        int n = epoll_wait(ep, events, 256, -1);
        long long bin = out ? now_ms() - first_ms : -1;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t got = read(fd, buf, sizeof buf);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN) continue;
                close(fd);
                continue;
            }
            if (bin >= 0 && bin < BINS) bytes_in[bin] += got;
            /* Echo replies are small; a short write drops the connection rather than buffer. */
            if (write(fd, buf, (size_t)got) != got) close(fd);
        }
    }
    if (out) {
        FILE *f = fopen(out, "w");
        if (!f) { fprintf(stderr, "echo: cannot write %s: %s\n", out, strerror(errno)); return 1; }
        for (long long i = 0; i < BINS; i++)
            if (bytes_in[i]) fprintf(f, "%lld %lld\n", first_ms + i, bytes_in[i]);
        fclose(f);
    }
    return 0;
}
