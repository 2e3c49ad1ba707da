#include "watch/promql/api_json.h"

#include <gtest/gtest.h>

#include <cmath>

namespace watch::promql {
namespace {

TEST(PromqlApiJson, Vector) {
  QueryResult r;
  r.value = Vector{
      {LabelSet::from({{"__name__", "up"}, {"job", "api"}}), 1435781451781, 1},
      {LabelSet::from({{"job", "web"}}), 1435781451781, 0.5},
  };
  EXPECT_EQ(render_query_result(r),
            R"({"status":"success","data":{"resultType":"vector","result":[)"
            R"({"metric":{"__name__":"up","job":"api"},"value":[1435781451.781,"1"]},)"
            R"({"metric":{"job":"web"},"value":[1435781451.781,"0.5"]}]}})");
  EXPECT_EQ(http_status(r), 200);
}

TEST(PromqlApiJson, EmptyVector) {
  QueryResult r;
  r.value = Vector{};
  EXPECT_EQ(render_query_result(r),
            R"({"status":"success","data":{"resultType":"vector","result":[]}})");
}

TEST(PromqlApiJson, Matrix) {
  QueryResult r;
  r.value = Matrix{{LabelSet::from({{"job", "a"}}), {{0, 1}, {15000, 2.5}, {30000, NAN}}},
                   {LabelSet{}, {{1500, INFINITY}}}};
  EXPECT_EQ(render_query_result(r),
            R"({"status":"success","data":{"resultType":"matrix","result":[)"
            R"({"metric":{"job":"a"},"values":[[0,"1"],[15,"2.5"],[30,"NaN"]]},)"
            R"({"metric":{},"values":[[1.500,"+Inf"]]}]}})");
}

TEST(PromqlApiJson, ScalarAndString) {
  QueryResult s;
  s.value = Scalar{1000, -HUGE_VAL};
  EXPECT_EQ(render_query_result(s),
            R"({"status":"success","data":{"resultType":"scalar","result":[1,"-Inf"]}})");
  QueryResult str;
  str.value = String{2500, "say \"hi\""};
  EXPECT_EQ(render_query_result(str),
            R"({"status":"success","data":{"resultType":"string","result":[2.500,"say \"hi\""]}})");
}

TEST(PromqlApiJson, Errors) {
  QueryResult r;
  r.error = Error{ErrorKind::kBadData, "1:5: parse error: unexpected <op:*>"};
  EXPECT_EQ(
      render_query_result(r),
      R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \u003cop:*\u003e"})");
  EXPECT_EQ(http_status(r), 400);
  EXPECT_EQ(http_status(ErrorKind::kExecution), 422);
  EXPECT_EQ(http_status(ErrorKind::kTimeout), 503);
  EXPECT_EQ(http_status(ErrorKind::kInternal), 500);
  EXPECT_EQ(
      render_error(ErrorKind::kTimeout, "query timed out in query execution"),
      R"({"status":"error","errorType":"timeout","error":"query timed out in query execution"})");
}

TEST(PromqlApiJson, StringsEscapedAsGoDoes) {
  auto quoted = [](std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
  };
  EXPECT_EQ(quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quoted("line\nbreak\ttab\rcr"), R"("line\nbreak\ttab\rcr")");
  EXPECT_EQ(quoted(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(quoted("<a href='x'>&</a>"), R"("\u003ca href='x'\u003e\u0026\u003c/a\u003e")");
  EXPECT_EQ(quoted("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
  EXPECT_EQ(quoted("bad \xff byte \xc3"), R"("bad \ufffd byte \ufffd")");
  EXPECT_EQ(quoted("\xe2\x80\xa8\xe2\x80\xa9"), R"("\u2028\u2029")");
}

}  // namespace
}  // namespace watch::promql
