/* FNV-1a 64 over a bytes object: the loop of tocsin.alerts.fingerprint in C.
 *
 * Optional: when no C compiler is at hand the package installs without it and
 * fingerprint.py computes the same value in Python (tests compare the two). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static PyObject *fnv1a64(PyObject *self, PyObject *arg) {
    (void)self;
    char *data;
    Py_ssize_t size;
    if (PyBytes_AsStringAndSize(arg, &data, &size) < 0) {
        return NULL;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        h ^= (unsigned char)data[i];
        h *= 0x100000001b3ULL;
    }
    return PyLong_FromUnsignedLongLong(h);
}

static PyMethodDef methods[] = {
    {"fnv1a64", fnv1a64, METH_O, "FNV-1a 64 of a bytes object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fnv", "FNV-1a 64 in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fnv(void) { return PyModule_Create(&module); }
