/* FNV-1a 64 over a bytes object, and the whole alert fingerprint over a label
 * dict: tocsin.alerts.fingerprint in C.
 *
 * Optional: when no C compiler is at hand the package installs without it and
 * fingerprint.py computes the same value in Python (tests compare the two). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_bytes(uint64_t h, const char *data, Py_ssize_t size) {
    for (Py_ssize_t i = 0; i < size; i++) {
        h ^= (unsigned char)data[i];
        h *= FNV_PRIME;
    }
    return h;
}

static PyObject *fnv1a64(PyObject *self, PyObject *arg) {
    (void)self;
    char *data;
    Py_ssize_t size;
    if (PyBytes_AsStringAndSize(arg, &data, &size) < 0) {
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(fnv_bytes(FNV_OFFSET, data, size));
}

/* a name or a value, then the separator 0xff that follows each */
static uint64_t fnv_add(uint64_t h, const char *data, Py_ssize_t size) {
    return (fnv_bytes(h, data, size) ^ 0xff) * FNV_PRIME;
}

/* fingerprint_hex(labels): FNV-1a 64 over "name 0xff value 0xff" for each label, names in
 * byte order (UTF-8 sorts as code points do, so Python's sort of str gives it), as %016x.
 * The same value as label_bytes + fnv1a64 without building the bytes. */
static PyObject *fingerprint_of_dict(PyObject *labels);

static PyObject *fingerprint_hex(PyObject *self, PyObject *labels) {
    (void)self;
    if (PyDict_Check(labels)) {
        return fingerprint_of_dict(labels);
    }
    PyObject *copy = PyDict_New(); /* any other mapping: its items in a dict first */
    if (copy == NULL) {
        return NULL;
    }
    PyObject *result = PyDict_Merge(copy, labels, 1) < 0 ? NULL : fingerprint_of_dict(copy);
    Py_DECREF(copy);
    return result;
}

static PyObject *fingerprint_of_dict(PyObject *labels) {
    PyObject *names = PyDict_Keys(labels);
    if (names == NULL || PyList_Sort(names) < 0) {
        Py_XDECREF(names);
        return NULL;
    }
    uint64_t h = FNV_OFFSET;
    Py_ssize_t count = PyList_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        PyObject *value = PyDict_GetItemWithError(labels, name);
        if (value == NULL || !PyUnicode_Check(name) || !PyUnicode_Check(value)) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "label names and values must be str");
            }
            Py_DECREF(names);
            return NULL;
        }
        Py_ssize_t size;
        const char *data = PyUnicode_AsUTF8AndSize(name, &size);
        if (data == NULL) {
            Py_DECREF(names);
            return NULL;
        }
        h = fnv_add(h, data, size);
        data = PyUnicode_AsUTF8AndSize(value, &size);
        if (data == NULL) {
            Py_DECREF(names);
            return NULL;
        }
        h = fnv_add(h, data, size);
    }
    Py_DECREF(names);
    char text[17];
    snprintf(text, sizeof text, "%016llx", (unsigned long long)h);
    return PyUnicode_FromStringAndSize(text, 16);
}

static PyMethodDef methods[] = {
    {"fnv1a64", fnv1a64, METH_O, "FNV-1a 64 of a bytes object."},
    {"fingerprint_hex", fingerprint_hex, METH_O, "Alertmanager's fingerprint of a label dict."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fnv", "FNV-1a 64 and the alert fingerprint in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fnv(void) { return PyModule_Create(&module); }
