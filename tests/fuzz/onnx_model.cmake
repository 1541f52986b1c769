# ONNX model loader and validator (worker_onnx): ModelProto parsing,
# initializer and attribute tensors, graph checks, static shape inference,
# session creation with constant folding, and a run on zero inputs for
# models whose inputs are static and small (all under a 64 KiB tensor
# limit); also the TensorProto parser. Seeds: mnist-8, a light model, node
# models with attributes of every kind the runtime reads, and TensorProtos.
strongroom_add_fuzzer(onnx_model ${CMAKE_CURRENT_SOURCE_DIR}/onnx_model_fuzz.cc
  LIBS worker_onnx
  SEEDS
    ${STRONGROOM_VECTORS_DIR}/onnx-models/mnist-8/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-models/mnist-8/test_data_set_0/input_0.pb
    ${STRONGROOM_VECTORS_DIR}/onnx-models/onnx-light/light_squeezenet.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_conv_with_autopad_same/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_averagepool_2d_dilations/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_maxpool_2d_uint8/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_gemm_all_attributes/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_layer_normalization_4d_axis1/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_batchnorm_example_training_mode/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_reshape_zero_and_negative_dim/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_transpose_all_permutations_5/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_argmax_keepdims_random_select_last_index/model.onnx
    ${STRONGROOM_VECTORS_DIR}/onnx-node/test_gelu_tanh_1/model.onnx
)
