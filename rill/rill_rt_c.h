/* The C interface of librill_rt: load a compiled model (`rill compile`, docs/plan-format.md),
 * run it, reset its states. Installed as <rill/rill_rt_c.h>; link with -lrill_rt
 * (pkg-config rill_rt).
 *
 * Errors: a function that fails returns NULL or a nonzero status and leaves one line in
 * rill_last_error(), which belongs to the calling thread. A NULL model, info or array (or
 * array element) is such an error, naming the function and the argument; a pointer to too
 * little memory is not detected.
 * Threads: a model runs one call at a time; several threads may each load and run their own
 * models (docs/cpp-api.md, "Compiled models"). */
#ifndef RILL_RILL_RT_C_H_
#define RILL_RILL_RT_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rill_model rill_model;

/* Element types; the values are rill's own DType codes. */
typedef enum {
  RILL_F32 = 0,
  RILL_F64 = 1,
  RILL_F16 = 2,
  RILL_BF16 = 3,
  RILL_I32 = 4,
  RILL_I64 = 5,
} rill_dtype;

enum { RILL_MAX_RANK = 16 };

/* One input or output of a model: valid as long as the model. */
typedef struct {
  const char* name;
  rill_dtype dtype;
  int rank;
  int64_t dims[RILL_MAX_RANK];
  size_t bytes; /* the size of its data */
} rill_tensor_info;

/* The model in the compiled model file at `path`, or NULL (see rill_last_error). */
rill_model* rill_model_load(const char* path);
/* Frees a model (NULL is ignored). */
void rill_model_free(rill_model* model);

/* The numbers of inputs and outputs; -1 for a NULL model. */
int rill_model_num_inputs(const rill_model* model);
int rill_model_num_outputs(const rill_model* model);
/* Fills `info` for input / output `index`; nonzero when the index is out of range. */
int rill_model_input_info(const rill_model* model, int index, rill_tensor_info* info);
int rill_model_output_info(const rill_model* model, int index, rill_tensor_info* info);

/* Runs the model: inputs[i] points to input i's data (info.bytes bytes, C order), outputs[k]
 * to room for output k's. Each input is copied once into the model and each output once into
 * outputs[k]. Returns 0, or nonzero with rill_last_error() set (outputs then unspecified).
 * A stateful model's states advance. */
int rill_model_run(rill_model* model, const void* const* inputs, void* const* outputs);
/* Sets the states a stateful model carries between runs to zeros. Returns 0 or nonzero. */
int rill_model_reset_states(rill_model* model);

/* The calling thread's last error ("" when none): as errno, a later call that succeeds leaves
 * it as it was. */
const char* rill_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* RILL_RILL_RT_C_H_ */
