/* Runs a compiled model (`rill compile`) through librill_rt's C interface: the same made-up
 * inputs as run_compiled.cc (element i of each is (i % 7) / 4 - 0.75), each element of the first
 * output printed on its own line.
 *
 *   run_compiled_c m.rillc */
#include <rill/rill_rt_c.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s model.rillc\n", argv[0]);
    return 2;
  }
  rill_model* model = rill_model_load(argv[1]);
  if (model == NULL) {
    fprintf(stderr, "%s\n", rill_last_error());
    return 1;
  }
  const int num_inputs = rill_model_num_inputs(model);
  const int num_outputs = rill_model_num_outputs(model);
  int float32 = num_inputs >= 1 && num_outputs >= 1;
  for (int i = 0; i < num_inputs; ++i) {
    rill_tensor_info in;
    float32 = float32 && rill_model_input_info(model, i, &in) == 0 && in.dtype == RILL_F32;
  }
  for (int k = 0; k < num_outputs; ++k) {
    rill_tensor_info out;
    float32 = float32 && rill_model_output_info(model, k, &out) == 0 && out.dtype == RILL_F32;
  }
  if (!float32 || num_inputs < 1) {
    fprintf(stderr, "this example runs models with float32 inputs and outputs\n");
    rill_model_free(model);
    return 1;
  }
  /* One made-up array per input. */
  const void** inputs = calloc((size_t)num_inputs, sizeof(void*));
  for (int i = 0; i < num_inputs; ++i) {
    rill_tensor_info in;
    rill_model_input_info(model, i, &in);
    float* x = malloc(in.bytes);
    for (size_t e = 0; e < in.bytes / sizeof(float); ++e) x[e] = (float)(e % 7) / 4.0f - 0.75f;
    inputs[i] = x;
  }
  void** outputs = calloc((size_t)num_outputs, sizeof(void*));
  for (int k = 0; k < num_outputs; ++k) {
    rill_tensor_info info;
    rill_model_output_info(model, k, &info);
    outputs[k] = malloc(info.bytes);
  }
  int status = rill_model_run(model, inputs, outputs);
  /* A stateful model starts afresh after a reset: the same outputs again. */
  if (status == 0) status = rill_model_reset_states(model);
  if (status == 0) status = rill_model_run(model, inputs, outputs);
  if (status != 0) {
    fprintf(stderr, "%s\n", rill_last_error());
  } else {
    rill_tensor_info out;
    rill_model_output_info(model, 0, &out);
    const float* y = outputs[0];
    for (size_t i = 0; i < out.bytes / sizeof(float); ++i) printf("%.9g\n", y[i]);
  }
  for (int k = 0; k < num_outputs; ++k) free(outputs[k]);
  free(outputs);
  for (int i = 0; i < num_inputs; ++i) free((void*)inputs[i]);
  free(inputs);
  rill_model_free(model);
  return status == 0 ? 0 : 1;
}
