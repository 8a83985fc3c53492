/* One reply's bytes against a known one, for the compiled build's mix parsers (resp.py,
 * memcache.py, through match.py).
 *
 * bytearray.startswith(prefix, start, end) parses its arguments the old way
 * (PyArg_ParseTuple, then a slice index each) and is looked up as a method at every
 * call: about 60 ns of a pipelined redis GET's ~1.5 µs of generator CPU, once or twice a
 * reply. starts_at is the same test, called directly with its arguments as they are.
 * The pure build calls bytearray.startswith itself (match.py): the answers are equal.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* starts_at(buf, prefix, start, end) -> bool: buf.startswith(prefix, start, end), for a
 * bytearray or bytes buf, a bytes prefix, and 0 <= start (end clamped to len(buf)). */
static PyObject *
starts_at(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "starts_at takes 4 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *buf = args[0], *prefix = args[1];
    const char *data;
    Py_ssize_t size;
    if (PyByteArray_Check(buf)) {
        data = PyByteArray_AS_STRING(buf);
        size = PyByteArray_GET_SIZE(buf);
    } else if (PyBytes_Check(buf)) {
        data = PyBytes_AS_STRING(buf);
        size = PyBytes_GET_SIZE(buf);
    } else {
        PyErr_SetString(PyExc_TypeError, "starts_at: buf must be a bytearray or bytes");
        return NULL;
    }
    if (!PyBytes_Check(prefix)) {
        PyErr_SetString(PyExc_TypeError, "starts_at: prefix must be bytes");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[2]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t end = PyLong_AsSsize_t(args[3]);
    if (end == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "starts_at: start is never negative here");
        return NULL;
    }
    if (end > size) {
        end = size;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(prefix);
    if (end - start < n) {
        Py_RETURN_FALSE;
    }
    if (memcmp(data + start, PyBytes_AS_STRING(prefix), (size_t)n) == 0) {
        Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
}

static PyMethodDef match_methods[] = {
    {"starts_at", (PyCFunction)(void (*)(void))starts_at, METH_FASTCALL,
     "starts_at(buf, prefix, start, end) -> bool: buf.startswith(prefix, start, end)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef match_module = {
    PyModuleDef_HEAD_INIT,
    "sockbench.core.protocols._match",
    "A reply's bytes against a known one, for the compiled build's parsers.",
    -1,
    match_methods,
};

PyMODINIT_FUNC
PyInit__match(void)
{
    return PyModule_Create(&match_module);
}
