"""Public attribute names of the layers on both sides (torch 2.13, Keras 3.15), read from
``dir()`` and ``vars()`` of instances: every torch layer torch2tf translates and nn.Module
itself; Keras's Layer, Model, Sequential and the common layer classes KERAS_LAYER_CLASSES
names (data is kept only on a torch layer whose Keras twin is one of them).

A plain value set on a child layer after construction (``self.fc.stddev = 0.001``) is data
for the project's own code only when neither side's layer has an attribute of that name:
else setting it would change the layer, or ``hasattr`` would answer differently on the Keras
twin. Kept as data so translation never imports torch or TF; tests/test_inception.py checks
these sets against the installed packages.
"""

TORCH_LAYER_ATTRIBUTES = frozenset(
    """
    T_destination activation activation_relu_or_gelu add_module add_zero_attn affine
    align_corners all_weights alpha append apply approximate batch_first beta bfloat16 bias
    bias_hh bias_hh_l0 bias_ih bias_ih_l0 bias_k bias_v bidirectional buffers
    call_super_init ceil_mode check_forward_args check_hidden_size check_input children
    clear compile count_include_pad cpu cuda d_model decoder dilation dim divisor_override
    double downscale_factor dropout dropout1 dropout2 dropout3 dump_patches
    elementwise_affine embed_dim embedding_dim encoder end_dim eps eval extend extra_repr
    flatten_parameters float forward from_pretrained generate_square_subsequent_mask
    get_buffer get_expected_cell_size get_expected_hidden_size get_extra_state get_parameter
    get_submodule groups half head_dim hidden_size in_channels in_features in_proj_bias
    in_proj_weight init inplace input_size insert ipu items k k_proj_weight kdim kernel_size
    keys lambd linear1 linear2 load_state_dict max_norm max_val merge_masks min_val mode
    modules momentum mtia multihead_attn name named_buffers named_children named_modules
    named_parameters negative_slope nhead nonlinearity norm1 norm2 norm3 norm_first
    norm_type normalized_shape num_batches_tracked num_channels num_embeddings num_features
    num_groups num_heads num_layers num_parameters out_channels out_features out_proj
    output_padding output_size p padding padding_idx padding_mode parameters permute_hidden
    pop proj_size q_proj_weight recompute_scale_factor register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
    register_parameter register_state_dict_post_hook register_state_dict_pre_hook
    requires_grad_ reset_parameters reset_running_stats return_indices running_mean
    running_var scale_factor scale_grad_by_freq self_attn set_extra_state set_submodule
    share_memory size sparse start_dim state_dict stride threshold to to_empty
    track_running_stats train training transposed type update upscale_factor v_proj_weight
    value values vdim weight weight_hh weight_hh_l0 weight_ih weight_ih_l0 xpu zero_grad
    """.split()
)

KERAS_LAYER_ATTRIBUTES = frozenset(
    """
    activation activity_regularizer add add_loss add_metric add_variable add_weight
    attention_axes autocast axis beta beta_constraint beta_initializer beta_regularizer
    bias_constraint bias_initializer bias_regularizer build build_from_config built call
    call_signature_parameters cell center compile compile_from_config compiled compiled_loss
    compiled_metrics compute_dtype compute_loss compute_mask compute_metrics
    compute_output_shape compute_output_spec convolution_op count_params data_format
    depth_multiplier depthwise_constraint depthwise_initializer depthwise_regularizer
    dilation_rate distribute_reduction_method distribute_strategy dropout dtype dtype_policy
    embeddings embeddings_constraint embeddings_initializer embeddings_regularizer
    enable_lora epsilon evaluate export filters fit from_config gamma gamma_constraint
    gamma_initializer gamma_regularizer get_build_config get_compile_config get_config
    get_initial_state get_layer get_metrics_result get_quantization_layer_structure
    get_state_tree get_weights go_backwards groups inner_loop input input_dim input_dtype
    input_shape input_spec inputs jit_compile kernel kernel_constraint kernel_initializer
    kernel_regularizer kernel_size key_dense key_dim layers load_own_variables load_weights
    lora_alpha lora_enabled lora_rank loss losses make_predict_function make_test_function
    make_train_function mask_zero max_value metrics metrics_names metrics_variables momentum
    moving_mean moving_mean_initializer moving_variance moving_variance_initializer name
    negative_slope noise_shape non_trainable_variables non_trainable_weights num_heads
    output output_dense output_dim output_padding output_shape outputs padding path
    pool_mode pool_size pop predict predict_function predict_on_batch predict_step
    quantization_config quantization_mode quantize quantized_build quantized_call
    query_dense rank rate recurrent_activation recurrent_constraint recurrent_dropout
    recurrent_initializer recurrent_regularizer rematerialized_call renorm renorm_clipping
    renorm_momentum reset_after reset_metrics reset_state reset_states return_sequences
    return_state rms_scaling run_eagerly save save_own_variables save_weights scale seed
    seed_generator set_state_tree set_weights single_state state_size stateful
    stateless_call stateless_compute_loss states steps_per_execution strides summary
    supports_jit supports_masking symbolic_call synchronized test_function test_on_batch
    test_step threshold to_json train_function train_on_batch train_step trainable
    trainable_variables trainable_weights unit_forget_bias units unroll
    unrolled_steps_per_execution use_bias use_cudnn value_dense value_dim variable_dtype
    variable_serialization_spec variables weights zero_output_for_mask
    """.split()
)

# The tf.keras.layers classes KERAS_LAYER_ATTRIBUTES covers (with Layer, Model, Sequential).
KERAS_LAYER_CLASSES = frozenset(
    """
    AveragePooling2D BatchNormalization Conv1D Conv1DTranspose Conv2D Conv2DTranspose Conv3D
    Dense DepthwiseConv1D DepthwiseConv2D Dropout Embedding Flatten GRU GroupNormalization
    LSTM LayerNormalization MaxPooling2D MultiHeadAttention ReLU SimpleRNN ZeroPadding2D
    """.split()
)
