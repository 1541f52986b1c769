// ONNX_CHECK: aborts on a programmer error (a broken invariant inside the
// runtime, never bad input: input errors are absl::Status). The message names
// the check, never tensor contents.
#ifndef STRONGROOM_WORKER_ONNX_CHECK_H_
#define STRONGROOM_WORKER_ONNX_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define ONNX_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)

#endif  // STRONGROOM_WORKER_ONNX_CHECK_H_
