// Helpers shared by the native addons; see napi_util.h.
#define _GNU_SOURCE
#include "napi_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char* errnoName(int error) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* name = strerrorname_np(error);
  if (name != NULL) return name;
#endif
  (void)error;
  return "ERR_CONDCAST_NATIVE";
}

void errnoMessage(char* out, size_t size, const char* what, int error) {
  snprintf(out, size, "%s: %s (%s)", what, strerror(error), errnoName(error));
}

napi_value throwErrno(napi_env env, const char* what, int error) {
  char message[320];
  errnoMessage(message, sizeof message, what, error);
  napi_value msg, code, err, num;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, errnoName(error), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_error(env, code, msg, &err) != napi_ok) {
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  if (napi_create_int32(env, -error, &num) == napi_ok) napi_set_named_property(env, err, "errno", num);
  napi_throw(env, err);
  return NULL;
}

napi_value throwType(napi_env env, const char* message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

int getArguments(napi_env env, napi_callback_info info, napi_value* argv, size_t count, const char* usage) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < count) {
    throwType(env, usage);
    return 0;
  }
  return 1;
}

int getAddress(napi_env env, napi_value value, const char* name, struct in_addr* out) {
  char text[64], message[96];
  if (!getString(env, value, text, sizeof text)) {
    snprintf(message, sizeof message, "%s must be an IPv4 address", name);
    throwType(env, message);
    return 0;
  }
  if (inet_pton(AF_INET, text, out) != 1) {
    snprintf(message, sizeof message, "%s is not an IPv4 address", name);
    throwErrno(env, message, EINVAL);
    return 0;
  }
  return 1;
}

int getString(napi_env env, napi_value value, char* out, size_t size) {
  size_t length = 0;
  return napi_get_value_string_utf8(env, value, out, size, &length) == napi_ok && length < size - 1;
}

int setNumber(napi_env env, napi_value object, const char* name, double value) {
  napi_value v;
  return napi_create_double(env, value, &v) == napi_ok && napi_set_named_property(env, object, name, v) == napi_ok;
}

int setBoolean(napi_env env, napi_value object, const char* name, int value) {
  napi_value v;
  return napi_get_boolean(env, value != 0, &v) == napi_ok && napi_set_named_property(env, object, name, v) == napi_ok;
}

int getTypedArray(napi_env env, napi_value value, napi_typedarray_type type, void** data, size_t* length, napi_value* buffer) {
  bool isTyped = false;
  napi_typedarray_type actual;
  return napi_is_typedarray(env, value, &isTyped) == napi_ok && isTyped &&
         napi_get_typedarray_info(env, value, &actual, length, data, buffer, NULL) == napi_ok && actual == type;
}

void* getExternal(napi_env env, napi_value value, const char* expected) {
  napi_valuetype type;
  void* data = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    throwType(env, expected);
    return NULL;
  }
  return data;
}

void* handleArgument(napi_env env, napi_callback_info info, const char* usage) {
  napi_value argv[1];
  return getArguments(env, info, argv, 1, usage) ? getExternal(env, argv[0], "expected a handle from open()") : NULL;
}

napi_value defineFunctions(napi_env env, napi_value exports, const napi_property_descriptor* functions, size_t count) {
  return napi_define_properties(env, exports, count, functions) == napi_ok ? exports : NULL;
}
