/* The pump's three system calls, for the compiled build (sockbench/engine/io/sysio.py).
 *
 * socket.socket.send and recv_into parse their arguments the old way, go through the
 * socket module's timeout machinery, and release and retake the GIL around the call:
 * about 200 ns a call, an eighth of the user-space CPU of a compiled HTTP request.
 * The pump's sockets never block, so none of that buys anything there. These calls
 * keep the GIL for what cannot block (a send, a receive, a poll with no timeout) and
 * release it for a poll that waits. Errors are the socket module's: OSError subclasses
 * by errno (EAGAIN is BlockingIOError), EINTR retried after the signal handlers ran.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <errno.h>
#include <math.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define MAX_EVENTS 1024

typedef struct {
    PyObject_HEAD
    int fd;
} FdObject;

static int
fd_init(FdObject *self, PyObject *args, PyObject *kwds)
{
    int fd;
    static char *keywords[] = {"fd", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i", keywords, &fd)) {
        return -1;
    }
    if (fd < 0) {
        PyErr_SetString(PyExc_ValueError, "a descriptor is never negative");
        return -1;
    }
    self->fd = fd;
    return 0;
}

static PyObject *
fd_fileno(FdObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(self->fd);
}

static PyMemberDef fd_members[] = {
    {"fd", T_INT, offsetof(FdObject, fd), READONLY, "the descriptor"},
    {NULL},
};

/* --- Stream: send and recv_into on a connected, non-blocking socket ------------------ */

/* A call that failed: the signal handler's exception if one raised (EINTR), else the
 * socket module's OSError subclass for ``error``. */
static PyObject *
failed(int error)
{
    if (!PyErr_Occurred()) {
        errno = error;
        PyErr_SetFromErrno(PyExc_OSError);
    }
    return NULL;
}

static PyObject *
stream_send(FdObject *self, PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    ssize_t n;
    for (;;) {
        /* MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE, whatever the handler. */
        n = send(self->fd, view.buf, (size_t)view.len, MSG_NOSIGNAL);
        if (n >= 0 || errno != EINTR || PyErr_CheckSignals() < 0) {
            break;
        }
    }
    int error = errno;  /* before the release, which may call into the exporter */
    PyBuffer_Release(&view);
    if (n < 0) {
        return failed(error);
    }
    return PyLong_FromSsize_t(n);
}

static PyObject *
stream_recv_into(FdObject *self, PyObject *buffer)
{
    Py_buffer view;
    if (PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {  /* read-only: as socket.recv_into */
            PyErr_Format(PyExc_TypeError, "recv_into() needs a writable buffer, not %.100s",
                         Py_TYPE(buffer)->tp_name);
        }
        return NULL;
    }
    ssize_t n;
    for (;;) {
        n = recv(self->fd, view.buf, (size_t)view.len, 0);
        if (n >= 0 || errno != EINTR || PyErr_CheckSignals() < 0) {
            break;
        }
    }
    int error = errno;  /* before the release, which may call into the exporter */
    PyBuffer_Release(&view);
    if (n < 0) {
        return failed(error);
    }
    return PyLong_FromSsize_t(n);
}

static PyMethodDef stream_methods[] = {
    {"send", (PyCFunction)stream_send, METH_O, "send(data) -> bytes sent, as socket.send"},
    {"recv_into", (PyCFunction)stream_recv_into, METH_O,
     "recv_into(buffer) -> bytes received, as socket.recv_into"},
    {"fileno", (PyCFunction)fd_fileno, METH_NOARGS, "the descriptor"},
    {NULL},
};

static PyTypeObject StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sockbench.engine.io._sysio.Stream",
    .tp_doc = "Stream(fd): send and recv_into on a connected non-blocking socket's "
              "descriptor, without the socket module's per-call cost. It does not own "
              "the descriptor: the socket it came from closes it.",
    .tp_basicsize = sizeof(FdObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)fd_init,
    .tp_methods = stream_methods,
    .tp_members = fd_members,
};

/* --- Epoll: epoll_wait into a list of (fd, events), as select.epoll.poll ------------ */

static PyObject *
epoll_poll(FdObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "poll(timeout, maxevents) takes 2 arguments");
        return NULL;
    }
    double timeout = PyFloat_AsDouble(args[0]);
    if (timeout == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (isnan(timeout)) {
        PyErr_SetString(PyExc_ValueError, "a timeout is a number of seconds, not NaN");
        return NULL;
    }
    long maxevents = PyLong_AsLong(args[1]);
    if (maxevents == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (maxevents <= 0 || maxevents > MAX_EVENTS) {
        maxevents = MAX_EVENTS;
    }
    int ms;
    if (timeout < 0) {
        ms = -1;
    }
    else {
        /* Rounded up, as select.epoll.poll: a wait never ends before it was asked to. */
        double whole = ceil(timeout * 1e3);
        ms = whole > (double)INT_MAX ? INT_MAX : (int)whole;
    }
    struct epoll_event events[MAX_EVENTS];
    int n;
    if (ms == 0) {
        n = epoll_wait(self->fd, events, (int)maxevents, 0);
    }
    else {
        Py_BEGIN_ALLOW_THREADS
        n = epoll_wait(self->fd, events, (int)maxevents, ms);
        Py_END_ALLOW_THREADS
    }
    if (n < 0) {
        if (errno != EINTR) {
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        /* Interrupted: the handlers run; no events, the caller's loop waits again. */
        if (PyErr_CheckSignals() < 0) {
            return NULL;
        }
        n = 0;
    }
    PyObject *ready = PyList_New(n);
    if (ready == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        PyObject *pair = PyTuple_New(2);
        PyObject *fd = PyLong_FromLong(events[i].data.fd);
        PyObject *mask = PyLong_FromUnsignedLong(events[i].events);
        if (pair == NULL || fd == NULL || mask == NULL) {
            Py_XDECREF(pair);
            Py_XDECREF(fd);
            Py_XDECREF(mask);
            Py_DECREF(ready);
            return NULL;
        }
        PyTuple_SET_ITEM(pair, 0, fd);
        PyTuple_SET_ITEM(pair, 1, mask);
        PyList_SET_ITEM(ready, i, pair);
    }
    return ready;
}

static PyMethodDef epoll_methods[] = {
    {"poll", (PyCFunction)(void (*)(void))epoll_poll, METH_FASTCALL,
     "poll(timeout, maxevents) -> [(fd, events)], as select.epoll.poll; the GIL is "
     "released only for a wait (a timeout other than 0); interrupted, it returns []"},
    {"fileno", (PyCFunction)fd_fileno, METH_NOARGS, "the descriptor"},
    {NULL},
};

static PyTypeObject EpollType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sockbench.engine.io._sysio.Epoll",
    .tp_doc = "Epoll(fd): epoll_wait on an epoll descriptor (a select.epoll's fileno()), "
              "which registers with every descriptor as before. It does not own the "
              "descriptor.",
    .tp_basicsize = sizeof(FdObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)fd_init,
    .tp_methods = epoll_methods,
    .tp_members = fd_members,
};

static struct PyModuleDef sysio_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sockbench.engine.io._sysio",
    .m_doc = "The pump's send, recv_into and epoll_wait without the socket module's "
             "per-call cost (the compiled build; sockbench/engine/io/sysio.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__sysio(void)
{
    if (PyType_Ready(&StreamType) < 0 || PyType_Ready(&EpollType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&sysio_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&StreamType);
    if (PyModule_AddObject(module, "Stream", (PyObject *)&StreamType) < 0) {
        Py_DECREF(&StreamType);
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&EpollType);
    if (PyModule_AddObject(module, "Epoll", (PyObject *)&EpollType) < 0) {
        Py_DECREF(&EpollType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
