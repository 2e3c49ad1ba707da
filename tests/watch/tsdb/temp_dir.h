// A fresh directory under /tmp for one test, removed with its contents.
#pragma once

#include <unistd.h>

#include <string>

#include "watch/tsdb/file_util.h"

namespace watch::tsdb::test {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/fb-tsdb-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { file::remove_all(path, nullptr); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace watch::tsdb::test
