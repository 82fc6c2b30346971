// The compact fixture towers of tests/data/models that graph-pass tests run end to end: one
// vision and one text tower, each with an input batch.
#pragma once

#include <filesystem>

namespace qclip::test {

struct TowerFixture {
  const char* dir;    // under tests/data/models
  const char* input;  // the graph input's name
  const char* file;   // its .npy, in dir
};

inline constexpr TowerFixture kTowerFixtures[] = {
    {"biomedclip_vision_tiny_legacy_op17", "pixel_values", "images_b4.in.pixel_values.npy"},
    {"biomedclip_text_tiny_pubmedvocab_legacy_op18", "input_ids", "padded256_b8.in.input_ids.npy"},
};

inline std::filesystem::path FixtureModels() {
  return std::filesystem::path(QCLIP_TEST_DATA) / "models";
}

}  // namespace qclip::test
