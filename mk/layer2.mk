# Layer 2 codecs: regenerate the known-answer vectors (only when a format
# changes on purpose; the tests compare against the committed files).
#   make BUILD=dir vectors-layer2
.PHONY: vectors-layer2

$(BUILD)/tools/gen_vectors_layer2: tests/gen/gen_vectors_layer2.c tests/layer2_fixtures.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

vectors-layer2: $(BUILD)/tools/gen_vectors_layer2
	$< tx > spec/vectors/tx.txt
	$< envelope > spec/vectors/envelope.txt
	$< block > spec/vectors/block.txt
