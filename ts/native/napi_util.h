// Helpers shared by the native addons (udp_batch.c, udp_recv.c): errors thrown with the errno text, and
// argument reading. Compiled into each addon with napi_util.c.
#ifndef CONDCAST_NAPI_UTIL_H
#define CONDCAST_NAPI_UTIL_H

#include <netinet/in.h>
#include <stddef.h>

#include <node_api.h>

// Returns NULL from the calling function (with a JS error thrown) when an N-API call fails.
#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "ERR_CONDCAST_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

// The errno's symbolic name (ENOBUFS) where the C library knows it, else "ERR_CONDCAST_NATIVE".
const char* errnoName(int error);

// Formats "<what>: <strerror> (<ENAME>)" into out.
void errnoMessage(char* out, size_t size, const char* what, int error);

// Throws Error("<what>: <strerror> (<ENAME>)") with code ENAME and errno set; returns NULL.
napi_value throwErrno(napi_env env, const char* what, int error);

// Throws a TypeError with code ERR_INVALID_ARG_TYPE; returns NULL.
napi_value throwType(napi_env env, const char* message);

// The call's first `count` arguments into argv; 0 with a TypeError (`usage`) thrown when fewer came.
int getArguments(napi_env env, napi_callback_info info, napi_value* argv, size_t count, const char* usage);

// An IPv4 address in dotted form; 0 with an error naming it (`name`) thrown when it is none.
int getAddress(napi_env env, napi_value value, const char* name, struct in_addr* out);

// Reads a string of fewer than size - 1 bytes into out; 0 when it is not a string or too long.
int getString(napi_env env, napi_value value, char* out, size_t size);

// Sets object[name] = value (a number); 0 when an N-API call fails.
int setNumber(napi_env env, napi_value object, const char* name, double value);

// Sets object[name] = value (a boolean); 0 when an N-API call fails.
int setBoolean(napi_env env, napi_value object, const char* name, int value);

// A typed array of the given type: its data, its length in elements and (when buffer is not NULL) its
// buffer; 0 when value is no such typed array.
int getTypedArray(napi_env env, napi_value value, napi_typedarray_type type, void** data, size_t* length, napi_value* buffer);

// The data of an external made by napi_create_external, or NULL with a TypeError thrown.
void* getExternal(napi_env env, napi_value value, const char* expected);

// The data of the handle (an external from open()) that is a call's only argument, as in close(handle);
// NULL with a TypeError thrown (`usage` when the argument is missing).
void* handleArgument(napi_env env, napi_callback_info info, const char* usage);

// An exported function's entry in a module's property table.
#define NAPI_FUNCTION(name, callback) {name, NULL, callback, NULL, NULL, NULL, napi_enumerable, NULL}

// Defines the module's functions on exports; returns exports, or NULL when that fails.
napi_value defineFunctions(napi_env env, napi_value exports, const napi_property_descriptor* functions, size_t count);

#endif
