/* Counts allocations made through CPython's object and mem allocators.
 *
 * A hook around the current allocators (the way tracemalloc installs itself): every
 * malloc, calloc and realloc of the PYMEM_DOMAIN_OBJ and PYMEM_DOMAIN_MEM domains is
 * counted, then passed on. Both domains are only used with the GIL held, so plain
 * counters are safe. Built on the fly by benchmarks/hot_path.py; used only there.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyMemAllocatorEx prev;
    unsigned long long allocs;
    unsigned long long reallocs;
} Hook;

static Hook hooks[2];
static int installed = 0;

static void *hook_malloc(void *ctx, size_t size) {
    Hook *h = (Hook *)ctx;
    h->allocs++;
    return h->prev.malloc(h->prev.ctx, size);
}

static void *hook_calloc(void *ctx, size_t nelem, size_t elsize) {
    Hook *h = (Hook *)ctx;
    h->allocs++;
    return h->prev.calloc(h->prev.ctx, nelem, elsize);
}

static void *hook_realloc(void *ctx, void *ptr, size_t size) {
    Hook *h = (Hook *)ctx;
    h->reallocs++;
    return h->prev.realloc(h->prev.ctx, ptr, size);
}

static void hook_free(void *ctx, void *ptr) {
    Hook *h = (Hook *)ctx;
    h->prev.free(h->prev.ctx, ptr);
}

static const PyMemAllocatorDomain domains[2] = {PYMEM_DOMAIN_OBJ, PYMEM_DOMAIN_MEM};

static PyObject *install(PyObject *self, PyObject *unused) {
    if (!installed) {
        for (int i = 0; i < 2; i++) {
            PyMemAllocatorEx mine = {&hooks[i], hook_malloc, hook_calloc, hook_realloc, hook_free};
            PyMem_GetAllocator(domains[i], &hooks[i].prev);
            PyMem_SetAllocator(domains[i], &mine);
        }
        installed = 1;
    }
    Py_RETURN_NONE;
}

static PyObject *uninstall(PyObject *self, PyObject *unused) {
    if (installed) {
        for (int i = 0; i < 2; i++) {
            PyMem_SetAllocator(domains[i], &hooks[i].prev);
        }
        installed = 0;
    }
    Py_RETURN_NONE;
}

/* (object allocations, mem allocations, reallocations of both) so far. */
static PyObject *counts(PyObject *self, PyObject *unused) {
    return Py_BuildValue("(KKK)", hooks[0].allocs, hooks[1].allocs,
                         hooks[0].reallocs + hooks[1].reallocs);
}

static PyMethodDef methods[] = {
    {"install", install, METH_NOARGS, "start counting"},
    {"uninstall", uninstall, METH_NOARGS, "restore the previous allocators"},
    {"counts", counts, METH_NOARGS, "(obj allocs, mem allocs, reallocs)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_allocount", NULL, -1, methods};

PyMODINIT_FUNC PyInit__allocount(void) { return PyModule_Create(&module); }
