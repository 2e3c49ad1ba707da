// Query results as Prometheus's HTTP API writes them (/api/v1/query,
// /api/v1/query_range), so that Grafana's Prometheus data source and any
// Prometheus API client read watch unchanged.
//
//   QueryResult r = engine.instant_query(q, t);
//   std::string body = watch::promql::render_query_result(r);
//   int status = watch::promql::http_status(r);   // 200, 400, 422, 503...
//
//   {"status":"success","data":{"resultType":"vector","result":[
//     {"metric":{"__name__":"up","job":"api"},"value":[1435781451.781,"1"]}]}}
//   {"status":"error","errorType":"bad_data","error":"1:5: parse error: ..."}
//
// Timestamps are seconds with millisecond decimals ("1.500"); values are
// strings as Go's strconv.FormatFloat(v, 'f', -1, 64) writes them ("0.1",
// "1000000000000000000000", never an exponent), "NaN", "+Inf", "-Inf".
// Strings are escaped as Go's encoding/json does (including <, >, & and
// invalid UTF-8).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "watch/promql/value.h"

namespace watch::promql {

std::string render_query_result(const QueryResult& result);
// {"resultType":...,"result":...}, the "data" member of a success.
std::string render_data(const Value& value);
std::string render_error(ErrorKind kind, std::string_view message);

// The status code Prometheus answers with: 200 on success; 400 bad_data,
// 422 execution, 503 timeout and canceled, 500 internal.
int http_status(const QueryResult& result);
int http_status(ErrorKind kind);

// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

}  // namespace watch::promql
