// qclip-preprocess: an image file to the [3, 224, 224] float32 tensor BiomedCLIP's vision tower
// takes, written as .npy.
//
//   qclip-preprocess xray.png --mode clip --out xray.npy [--max-pixels N]
//
// --mode clip (the default) is open_clip's eval transform: the shorter side resized to 224 with
// Pillow's BICUBIC, then a centre crop. squash-bilinear is the Med-MIR browser pipeline: the whole
// image resized to 224x224 with BILINEAR. Both match Pillow + torchvision bit for bit on PNG
// input. Any error (unreadable, corrupt or too large image) prints a message on stderr and exits
// with status 1.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "common/cli.h"
#include "image/decode.h"
#include "image/preprocess.h"
#include "qclip/npy.h"

int main(int argc, char** argv) {
  return qclip::cli::Main("qclip-preprocess", [&] {
    CLI::App app{"An image file to BiomedCLIP's [3, 224, 224] float32 input tensor (.npy)"};
    std::string image_path, out_path, mode = "clip";
    qclip::DecodeLimits limits;
    app.add_option("image", image_path, "PNG, JPEG, BMP, PNM or TGA file")->required();
    app.add_option("--mode", mode, "clip (default) or squash-bilinear")
        ->check(CLI::IsMember({"clip", "squash-bilinear"}));
    app.add_option("--out", out_path, "the .npy file to write")->required();
    app.add_option("--max-pixels", limits.max_pixels,
                   "refuse images with more pixels, before decoding (default 8192 x 8192)");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : 1;  // --help exits 0; usage errors exit 1
    }
    const qclip::Tensor tensor =
        qclip::PreprocessImageFile(image_path, qclip::ParsePreprocessMode(mode), limits);
    qclip::WriteNpy(out_path, tensor);
    return 0;
  });
}
