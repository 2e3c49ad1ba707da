// The shop's schema and its migrations. The database records its version in
// SQLite's `PRAGMA user_version`; migrate() applies the missing steps in
// order, each in its own transaction, so a process that starts against an
// older file brings it up to date and two processes starting at once do not
// both apply a step (the version is read again under the write lock).
//
//   shop::Db db({.path = path});
//   shop::migrate(db);            // throws SchemaError on a newer file
//
// To change the schema, append a Migration to the list in schema.cc; never
// edit one that has shipped.
#pragma once

#include <stdexcept>
#include <string_view>

#include "common/db.h"

namespace shop {

// The database was written by a newer build (its version is above ours).
class SchemaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The schema version this build writes and expects.
int latest_schema_version();
// The version recorded in the file (0 for a new file).
int schema_version(Db& db);
// Applies every missing migration. Returns how many it applied.
int migrate(Db& db);

}  // namespace shop
