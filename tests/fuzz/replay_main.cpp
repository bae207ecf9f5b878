// The main() of a fuzz target built without libFuzzer (make check, g++):
// runs LLVMFuzzerTestOneInput once on each file named, or on each file of
// a directory named, in name order. A violated invariant aborts, as under
// libFuzzer; otherwise the exit status is 0 (66 for an unreadable file).
//
//   http_message_replay tests/fuzz/http-corpus
//   http_message_replay crash-1234
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

namespace {

bool is_dir(const std::string& path)
{
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The regular files of dir, sorted; hidden files left out.
std::vector<std::string> files_of(const std::string& dir)
{
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] == '.')
                continue;
            std::string path = dir + "/" + e->d_name;
            if (!is_dir(path))
                out.push_back(path);
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 64;
    }
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        if (is_dir(argv[i])) {
            auto more = files_of(argv[i]);
            files.insert(files.end(), more.begin(), more.end());
        } else {
            files.push_back(argv[i]);
        }
    }
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "%s: cannot read %s\n", argv[0], f.c_str());
            return 66;
        }
        std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        // A copy of its own, exactly the input's size, as libFuzzer gives it.
        std::vector<uint8_t> data(bytes.begin(), bytes.end());
        LLVMFuzzerTestOneInput(data.data(), data.size());
    }
    std::printf("%zu input%s replayed\n", files.size(), files.size() == 1 ? "" : "s");
    return 0;
}
