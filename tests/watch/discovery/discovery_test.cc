// watch/discovery: the file_sd parser (JSON and YAML, Prometheus 2.42's
// rules and errors), DNS answers to target groups, and the Manager with real
// files in a temporary directory and a fake DNS server on loopback (a UDP
// socket answering with canned records, written here). Waits are on
// on_change or on polling errors() with a deadline, never fixed sleeps.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/log.h"
#include "watch/discovery/discovery.h"

namespace watch::discovery {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Helpers

std::vector<std::string> addresses(const TargetGroup& g) {
  std::vector<std::string> out;
  for (const LabelSet& t : g.targets) out.emplace_back(t.get(kAddressLabel));
  return out;
}

std::vector<std::string> sources(const std::vector<TargetGroup>& groups) {
  std::vector<std::string> out;
  for (const TargetGroup& g : groups) out.push_back(g.source);
  return out;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "discovery-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path(std::string_view name) const { return (path_ / name).string(); }
  // Writes a new file and renames it into place (as tools that generate
  // file_sd files do): a new inode, seen by the next poll.
  std::string write(std::string_view name, std::string_view text) const {
    const std::string final_path = path(name);
    const std::string tmp = final_path + ".tmp~";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
    }
    fs::rename(tmp, final_path);
    return final_path;
  }

 private:
  fs::path path_;
};

// Collects on_change calls; tests wait on it.
class Changes {
 public:
  void add(const std::string& job, const std::vector<TargetGroup>& groups) {
    std::lock_guard lock(mu_);
    latest_[job] = groups;
    ++count_[job];
    cv_.notify_all();
  }
  // Waits until the latest groups of `job` satisfy `pred`.
  template <class Pred>
  bool wait(const std::string& job, Pred pred, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] {
      const auto it = latest_.find(job);
      return it != latest_.end() && pred(it->second);
    });
  }
  int count(const std::string& job) {
    std::lock_guard lock(mu_);
    return count_[job];
  }
  std::function<void(const std::string&, const std::vector<TargetGroup>&)> callback() {
    return [this](const std::string& job, const std::vector<TargetGroup>& groups) {
      add(job, groups);
    };
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<TargetGroup>> latest_;
  std::map<std::string, int> count_;
};

// Polls `pred` until it holds or 10 s pass.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// ---------------------------------------------------------------------------
// DNS messages, built by hand.

constexpr std::uint16_t kTypeA = 1, kTypeNs = 2, kTypeCname = 5, kTypeMx = 15, kTypeTxt = 16,
                        kTypeAaaa = 28, kTypeSrv = 33;

void put16(std::vector<std::uint8_t>& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

void put_name(std::vector<std::uint8_t>& b, std::string_view dotted) {
  while (!dotted.empty() && dotted != ".") {
    const std::size_t dot = dotted.find('.');
    const std::string_view label = dotted.substr(0, dot);
    b.push_back(static_cast<std::uint8_t>(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  b.push_back(0);
}

struct Rr {
  std::string name;
  std::uint16_t type;
  std::vector<std::uint8_t> rdata;
};

std::vector<std::uint8_t> srv_data(unsigned port, std::string_view target) {
  std::vector<std::uint8_t> d;
  put16(d, 10);  // priority
  put16(d, 5);   // weight
  put16(d, port);
  put_name(d, target);
  return d;
}
std::vector<std::uint8_t> a_data(const char* ip) {
  std::vector<std::uint8_t> d(4);
  ::inet_pton(AF_INET, ip, d.data());
  return d;
}
std::vector<std::uint8_t> aaaa_data(const char* ip) {
  std::vector<std::uint8_t> d(16);
  ::inet_pton(AF_INET6, ip, d.data());
  return d;
}
std::vector<std::uint8_t> mx_data(std::string_view exchange) {
  std::vector<std::uint8_t> d;
  put16(d, 10);
  put_name(d, exchange);
  return d;
}
std::vector<std::uint8_t> name_data(std::string_view name) {
  std::vector<std::uint8_t> d;
  put_name(d, name);
  return d;
}

void put_rr(std::vector<std::uint8_t>& b, const Rr& rr) {
  put_name(b, rr.name);
  put16(b, rr.type);
  put16(b, 1);  // IN
  put16(b, 0);  // TTL
  put16(b, 60);
  put16(b, static_cast<unsigned>(rr.rdata.size()));
  b.insert(b.end(), rr.rdata.begin(), rr.rdata.end());
}

// A response: header, the question `qname`/`qtype`, the answers.
std::vector<std::uint8_t> message(std::string_view qname, std::uint16_t qtype,
                                  const std::vector<Rr>& answers, int rcode = 0) {
  std::vector<std::uint8_t> b;
  put16(b, 0x1234);
  put16(b, 0x8180 | rcode);  // QR, RD, RA
  put16(b, 1);
  put16(b, static_cast<unsigned>(answers.size()));
  put16(b, 0);
  put16(b, 0);
  put_name(b, qname);
  put16(b, qtype);
  put16(b, 1);
  for (const Rr& rr : answers) put_rr(b, rr);
  return b;
}

// A fake DNS server on loopback: answers queries for canned names with
// canned records (NXDOMAIN for others), or stays silent, or answers with a
// malformed message.
class FakeDnsServer {
 public:
  enum class Mode { kAnswer, kSilent, kMalformed, kServfail };

  explicit FakeDnsServer(int family = AF_INET) {
    fd_ = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      sin->sin_family = AF_INET;
      sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(sockaddr_in);
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr = in6addr_loopback;
      len = sizeof(sockaddr_in6);
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    if (family == AF_INET)
      address_ =
          "127.0.0.1:" + std::to_string(ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port));
    else
      address_ = "[::1]:" + std::to_string(ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port));
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeDnsServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }

  bool ok() const { return fd_ >= 0; }
  const std::string& address() const { return address_; }

  // Records for (name, type); name without the trailing dot, any case.
  void set(const std::string& name, std::uint16_t type, std::vector<Rr> answers) {
    std::lock_guard lock(mu_);
    records_[{lower(name), type}] = std::move(answers);
  }
  void clear(const std::string& name, std::uint16_t type) {
    std::lock_guard lock(mu_);
    records_.erase({lower(name), type});
  }
  void set_mode(Mode mode) { mode_ = mode; }
  int queries() const { return queries_; }

 private:
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  void serve() {
    std::vector<std::uint8_t> buf(4096);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      const ssize_t n =
          ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 12) continue;
      ++queries_;
      const Mode mode = mode_;
      if (mode == Mode::kSilent) continue;
      // The question: labels up to the zero, then type and class.
      std::size_t off = 12;
      std::string qname;
      while (off < static_cast<std::size_t>(n) && buf[off] != 0) {
        const std::size_t len = buf[off];
        if (!qname.empty()) qname += '.';
        qname.append(reinterpret_cast<const char*>(&buf[off + 1]), len);
        off += len + 1;
      }
      off += 1;
      if (off + 4 > static_cast<std::size_t>(n)) continue;
      const std::uint16_t qtype = static_cast<std::uint16_t>((buf[off] << 8) | buf[off + 1]);
      const std::size_t question_end = off + 4;

      std::vector<Rr> answers;
      int rcode = 3;  // NXDOMAIN
      {
        std::lock_guard lock(mu_);
        if (const auto it = records_.find({lower(qname), qtype}); it != records_.end()) {
          answers = it->second;
          rcode = 0;
        } else {
          for (const auto& [key, rrs] : records_)
            if (key.first == lower(qname)) rcode = 0;  // the name exists: NOERROR, no data
        }
      }
      if (mode == Mode::kServfail) {
        answers.clear();
        rcode = 2;
      }
      std::vector<std::uint8_t> out;
      out.push_back(buf[0]);  // the query's id
      out.push_back(buf[1]);
      put16(out, 0x8180 | static_cast<unsigned>(rcode));
      put16(out, 1);
      put16(out, mode == Mode::kMalformed ? 1 : static_cast<unsigned>(answers.size()));
      put16(out, 0);
      put16(out, 0);
      out.insert(out.end(), buf.begin() + 12,
                 buf.begin() + static_cast<std::ptrdiff_t>(question_end));
      if (mode == Mode::kMalformed) {
        // An SRV record whose data length runs past the end of the message.
        put16(out, 0xc00c);
        put16(out, kTypeSrv);
        put16(out, 1);
        put16(out, 0);
        put16(out, 60);
        put16(out, 200);
        put16(out, 1);
      } else {
        for (const Rr& rr : answers) put_rr(out, rr);
      }
      ::sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
  }

  int fd_ = -1;
  std::string address_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<Mode> mode_{Mode::kAnswer};
  std::atomic<int> queries_{0};
  std::mutex mu_;
  std::map<std::pair<std::string, std::uint16_t>, std::vector<Rr>> records_;  // guarded by mu_
};

// ---------------------------------------------------------------------------
// parse_file_sd

TEST(ParseFileSd, JsonGroups) {
  const auto r = parse_file_sd(R"([
    {"targets": ["a:9100", "b:9100"], "labels": {"env": "prod", "__scheme__": "https"}},
    {"targets": []},
    {"labels": {"team": "db"}}
  ])",
                               "/etc/sd/nodes.json");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.groups.size(), 3u);
  EXPECT_EQ(r.groups[0].source, "/etc/sd/nodes.json:0");
  EXPECT_THAT(addresses(r.groups[0]), ElementsAre("a:9100", "b:9100"));
  EXPECT_EQ(r.groups[0].targets[0], LabelSet::from({{"__address__", "a:9100"}}));
  EXPECT_EQ(r.groups[0].labels, LabelSet::from({{"env", "prod"},
                                                {"__scheme__", "https"},
                                                {"__meta_filepath", "/etc/sd/nodes.json"}}));
  EXPECT_EQ(r.groups[1].source, "/etc/sd/nodes.json:1");
  EXPECT_THAT(r.groups[1].targets, IsEmpty());
  EXPECT_EQ(r.groups[2].labels.get("team"), "db");
  EXPECT_EQ(r.groups[2].labels.get("__meta_filepath"), "/etc/sd/nodes.json");
}

TEST(ParseFileSd, YamlGroups) {
  const auto r = parse_file_sd(R"(
# a comment
- targets:
    - a:9100
    - 10.0.0.1:80
  labels:
    env: prod
    replicas: 3      # any scalar is its text, as yaml.v2 into a string
- targets: [b:1]
)",
                               "/etc/sd/nodes.YML");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_THAT(addresses(r.groups[0]), ElementsAre("a:9100", "10.0.0.1:80"));
  EXPECT_EQ(r.groups[0].labels.get("replicas"), "3");
  EXPECT_EQ(r.groups[1].source, "/etc/sd/nodes.YML:1");
  EXPECT_EQ(r.groups[1].labels, LabelSet::from({{"__meta_filepath", "/etc/sd/nodes.YML"}}));
}

TEST(ParseFileSd, EmptyAndNullDocuments) {
  EXPECT_TRUE(parse_file_sd("", "x.yml").ok());
  EXPECT_TRUE(parse_file_sd("# nothing\n", "x.yaml").groups.empty());
  EXPECT_TRUE(parse_file_sd("null", "x.json").ok());
  EXPECT_TRUE(parse_file_sd("[]", "x.json").ok());
  // Go's encoding/json refuses an empty document.
  EXPECT_FALSE(parse_file_sd("", "x.json").ok());
  EXPECT_FALSE(parse_file_sd("  \n", "x.json").ok());
}

TEST(ParseFileSd, NullsInsideGroups) {
  // Null targets/labels are none; a null target or label value is "" (a
  // target without address is dropped, an empty label is no label).
  const auto j = parse_file_sd(R"([{"targets": null, "labels": null},
                                   {"targets": ["a:1", null], "labels": {"x": null, "y": "1"}}])",
                               "f.json");
  ASSERT_TRUE(j.ok()) << j.error;
  EXPECT_THAT(j.groups[0].targets, IsEmpty());
  EXPECT_THAT(addresses(j.groups[1]), ElementsAre("a:1"));
  EXPECT_EQ(j.groups[1].labels, LabelSet::from({{"y", "1"}, {"__meta_filepath", "f.json"}}));

  const auto y =
      parse_file_sd("- targets:\n  labels:\n- targets: [a:1, ~, '']\n  labels: {x: }\n", "f.yml");
  ASSERT_TRUE(y.ok()) << y.error;
  EXPECT_THAT(y.groups[0].targets, IsEmpty());
  EXPECT_THAT(addresses(y.groups[1]), ElementsAre("a:1"));
  EXPECT_FALSE(y.groups[1].labels.has("x"));
}

TEST(ParseFileSd, JsonKeysAsGoMatchesThem) {
  // Case-insensitive field names; a repeated key's last value wins.
  const auto r = parse_file_sd(R"([{"Targets": ["a:1"], "LABELS": {"a": "1"},
                                    "targets": ["b:1"], "labels": {"b": "2", "b": "3"}}])",
                               "f.json");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_THAT(addresses(r.groups[0]), ElementsAre("b:1"));
  EXPECT_EQ(r.groups[0].labels, LabelSet::from({{"b", "3"}, {"__meta_filepath", "f.json"}}));
}

TEST(ParseFileSd, FilepathLabelCannotBeOverridden) {
  const auto r =
      parse_file_sd(R"([{"targets": ["a:1"], "labels": {"__meta_filepath": "x"}}])", "/real.json");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.groups[0].labels.get("__meta_filepath"), "/real.json");
}

struct BadCase {
  const char* path;
  const char* text;
  const char* error;  // the expected one-line error
};

class ParseFileSdErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseFileSdErrors, OneLineWithFileAndLine) {
  const BadCase& c = GetParam();
  const auto r = parse_file_sd(c.text, c.path);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.groups.empty());
  EXPECT_EQ(r.error, c.error);
  EXPECT_EQ(r.error.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Json, ParseFileSdErrors,
    ::testing::Values(
        BadCase{"/sd/a.json", R"({"targets": ["a:1"]})",
                "/sd/a.json: line 1: expected a list of target groups, got an object"},
        BadCase{"/sd/a.json", "[\n  {\"targets\": [\"a:1\"]},\n  null\n]",
                "/sd/a.json: line 3: group 1: null is not a target group"},
        BadCase{"/sd/a.json", "[\n {\"targets\": [\n  \"a:1\",\n  9100\n ]}\n]",
                "/sd/a.json: line 4: group 0: targets: expected a string, got a number"},
        BadCase{"/sd/a.json", "[{\"targets\": \"a:1\"}]",
                "/sd/a.json: line 1: group 0: targets: expected a list of strings, got a string"},
        BadCase{"/sd/a.json", "[{\"targets\": [], \"lables\": {}}]",
                "/sd/a.json: line 1: group 0: unknown field \"lables\" (a group has targets and "
                "labels)"},
        BadCase{"/sd/a.json", "[{}, {\"labels\": {\n\"0day\": \"x\"}}]",
                "/sd/a.json: line 2: group 1: labels: \"0day\" is not a valid label name"},
        BadCase{"/sd/a.json", "[{\"labels\": {\"a\": 1}}]",
                "/sd/a.json: line 1: group 0: labels: value of \"a\": expected a string, got a "
                "number"},
        BadCase{"/sd/a.json", "[{\"targets\": [[\"a:1\"]]}]",
                "/sd/a.json: line 1: group 0: targets: expected a string, got a list"},
        BadCase{"/sd/a.json", "[\n{\"targets\": [\"a:1\",]}]",
                "/sd/a.json: line 2, column 20: json: syntax error while parsing value - "
                "unexpected ']'; expected '[', '{', or a literal"},
        BadCase{"/sd/a.json", "[1]",
                "/sd/a.json: line 1: group 0: expected an object, got a number"},
        BadCase{"/sd/a.txt", "[]", "/sd/a.txt: not a .json, .yml or .yaml file"}));

INSTANTIATE_TEST_SUITE_P(
    Yaml, ParseFileSdErrors,
    ::testing::Values(
        BadCase{"/sd/a.yml", "targets: [a:1]\n",
                "/sd/a.yml: line 1, column 1: expected a list of target groups, got a mapping"},
        BadCase{"/sd/a.yml", "- targets: [a:1]\n- ~\n- targets: [b:1]\n",
                "/sd/a.yml: line 2, column 3: group 1: null is not a target group"},
        BadCase{"/sd/a.yml", "- targets:\n    - a:1\n    - [b, c]\n",
                "/sd/a.yml: line 3, column 7: group 0: targets: expected a string, got a list"},
        BadCase{"/sd/a.yml", "- targets: a:1\n",
                "/sd/a.yml: line 1, column 12: group 0: targets: expected a list of strings, got "
                "a scalar"},
        BadCase{"/sd/a.yml", "- targets: []\n  Labels: {}\n",
                "/sd/a.yml: line 2, column 3: group 0: unknown field \"Labels\" (a group has "
                "targets and labels)"},
        BadCase{"/sd/a.yml", "- targets: []\n  targets: []\n",
                "/sd/a.yml: line 2, column 3: group 0: field targets given twice"},
        BadCase{"/sd/a.yml", "- labels:\n    a: 1\n    a: 2\n",
                "/sd/a.yml: line 3, column 5: group 0: labels: \"a\" given twice"},
        BadCase{"/sd/a.yml", "- labels:\n    team-name: db\n",
                "/sd/a.yml: line 2, column 5: group 0: labels: \"team-name\" is not a valid "
                "label name"},
        BadCase{"/sd/a.yml", "- labels:\n    a: {b: c}\n",
                "/sd/a.yml: line 2, column 8: group 0: labels: value of \"a\": expected a "
                "string, got a mapping"},
        BadCase{"/sd/a.yml", "- targets: [a:1\n",
                "/sd/a.yml: line 2, column 1: yaml: end of sequence flow not found"},
        BadCase{"/sd/a.yml", "- targets: [\"a\xff:1\"]\n",
                "/sd/a.yml: line 1: yaml: invalid UTF-8"}));

TEST(ParseFileSd, RefusesLargeFiles) {
  const std::string big(kFileSdMaxBytes + 1, ' ');
  const auto r = parse_file_sd(big, "/big.json");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error, StartsWith("/big.json: larger than 16 MiB"));
}

TEST(ParseFileSd, RefusesAliasBombs) {
  // 2000 references to one 4000-byte target: 8 MB of targets from 32 kB.
  std::string bomb = "- targets: &t [" + std::string(4000, 'x') + "]\n";
  for (int i = 0; i < 2000; ++i) bomb += "- targets: *t\n";
  const auto r = parse_file_sd(bomb, "/bomb.yml");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error, HasSubstr("aliases"));
  // Aliases within bounds are fine.
  const auto ok = parse_file_sd("- targets: &t [a:1]\n- targets: *t\n", "/ok.yml");
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_THAT(addresses(ok.groups[1]), ElementsAre("a:1"));
}

TEST(ParseFileSd, DeepNestingIsAnErrorNotACrash) {
  const std::string deep_json(100000, '[');
  EXPECT_FALSE(parse_file_sd(deep_json, "/deep.json").ok());
  const std::string deep_yaml(100000, '[');
  EXPECT_FALSE(parse_file_sd(deep_yaml, "/deep.yml").ok());
}

// ---------------------------------------------------------------------------
// DNS

TEST(ParseDnsType, AsPrometheus242) {
  EXPECT_EQ(parse_dns_type("SRV"), DnsSdConfig::Type::kSrv);
  EXPECT_EQ(parse_dns_type("srv"), DnsSdConfig::Type::kSrv);
  EXPECT_EQ(parse_dns_type("A"), DnsSdConfig::Type::kA);
  EXPECT_EQ(parse_dns_type("aaaa"), DnsSdConfig::Type::kAaaa);
  EXPECT_EQ(parse_dns_type("Mx"), DnsSdConfig::Type::kMx);
  EXPECT_EQ(parse_dns_type("NS"), std::nullopt);  // 2.49+
  EXPECT_EQ(parse_dns_type("TXT"), std::nullopt);
  EXPECT_EQ(parse_dns_type(""), std::nullopt);
}

TEST(ParseDnsAnswer, Srv) {
  const auto msg = message("_node._tcp.example.com", kTypeSrv,
                           {{"_node._tcp.example.com", kTypeSrv, srv_data(9100, "db1.example.com")},
                            {"_node._tcp.example.com", kTypeSrv, srv_data(9200, "db2.example.com")},
                            {"x", kTypeCname, name_data("y.example.com")}});
  const auto r = parse_dns_answer(msg, "_node._tcp.example.com", {});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.group.source, "_node._tcp.example.com");
  EXPECT_TRUE(r.group.labels.empty());
  EXPECT_EQ(r.skipped_records, 0u);  // CNAMEs are skipped silently
  ASSERT_EQ(r.group.targets.size(), 2u);
  EXPECT_EQ(r.group.targets[0],
            LabelSet::from({{"__address__", "db1.example.com:9100"},
                            {"__meta_dns_name", "_node._tcp.example.com"},
                            {"__meta_dns_srv_record_target", "db1.example.com."},
                            {"__meta_dns_srv_record_port", "9100"}}));
  EXPECT_EQ(r.group.targets[1].get("__address__"), "db2.example.com:9200");
}

TEST(ParseDnsAnswer, AddressRecordsUseTheConfiguredPort) {
  DnsSdConfig config{.names = {"h"}, .type = DnsSdConfig::Type::kA, .port = 8080};
  const auto msg = message("h", kTypeA,
                           {{"h", kTypeA, a_data("10.0.0.1")},
                            {"h", kTypeAaaa, aaaa_data("2001:db8::1")},
                            {"h", kTypeAaaa, aaaa_data("2001:db8:0:1:0:0:0:1")},
                            {"h", kTypeAaaa, aaaa_data("::ffff:192.0.2.7")},
                            {"h", kTypeAaaa, aaaa_data("1:0:1:0:1:0:1:0")},
                            {"h", kTypeMx, mx_data("mail.example.com")},
                            {"h", kTypeTxt, {3, 'a', 'b', 'c'}}});
  const auto r = parse_dns_answer(msg, "h", config);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_THAT(addresses(r.group),
              ElementsAre("10.0.0.1:8080", "[2001:db8::1]:8080", "[2001:db8:0:1::1]:8080",
                          "192.0.2.7:8080",  // Go prints an IPv4-mapped address as IPv4
                          "[1:0:1:0:1:0:1:0]:8080", "mail.example.com:8080"));
  EXPECT_EQ(r.group.targets[5].get("__meta_dns_mx_record_target"), "mail.example.com.");
  EXPECT_EQ(r.group.targets[0].get("__meta_dns_name"), "h");
  EXPECT_FALSE(r.group.targets[0].has("__meta_dns_srv_record_target"));
  EXPECT_EQ(r.skipped_records, 1u);  // the TXT
}

TEST(ParseDnsAnswer, CompressedAndEscapedNames) {
  // The SRV target points at the question's name (offset 12); a label with
  // a dot and a space is escaped as miekg/dns writes it.
  auto msg = message("_s._tcp.example.com", kTypeSrv, {});
  msg[7] = 2;  // two answers
  std::vector<std::uint8_t> rdata;
  put16(rdata, 0);
  put16(rdata, 0);
  put16(rdata, 443);
  rdata.push_back(3);
  rdata.insert(rdata.end(), {'w', 'e', 'b'});
  rdata.push_back(0xc0);
  rdata.push_back(20);  // "example.com" in the question (12 + 1 + 2 + 1 + 4)
  put_rr(msg, {"_s._tcp.example.com", kTypeSrv, rdata});
  std::vector<std::uint8_t> odd;
  put16(odd, 0);
  put16(odd, 0);
  put16(odd, 80);
  odd.insert(odd.end(), {4, 'a', '.', ' ', 'b', 0});
  put_rr(msg, {"_s._tcp.example.com", kTypeSrv, odd});
  const auto r = parse_dns_answer(msg, "_s._tcp.example.com", {});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_THAT(addresses(r.group), ElementsAre("web.example.com:443", "a\\.\\ b:80"));
  EXPECT_EQ(r.group.targets[0].get("__meta_dns_srv_record_target"), "web.example.com.");
}

TEST(ParseDnsAnswer, EmptyAnswerIsAnEmptyGroup) {
  const auto r = parse_dns_answer(message("x.example.com", kTypeSrv, {}, 3), "x.example.com", {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.group, (TargetGroup{.source = "x.example.com", .targets = {}, .labels = {}}));
}

TEST(ParseDnsAnswer, MalformedMessagesAreErrors) {
  const auto good = message("h", kTypeSrv, {{"h", kTypeSrv, srv_data(1, "t.example")}});
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    const auto r = parse_dns_answer(std::span(good).first(cut), "h", {});
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_EQ(r.error.find('\n'), std::string::npos);
  }
  // A record whose data is shorter than its type needs.
  EXPECT_FALSE(parse_dns_answer(message("h", kTypeA, {{"h", kTypeA, {1, 2, 3}}}), "h", {}).ok());
  EXPECT_FALSE(
      parse_dns_answer(message("h", kTypeAaaa, {{"h", kTypeAaaa, {1, 2, 3, 4}}}), "h", {}).ok());
  // A name in the data that runs past the record's data.
  auto srv = srv_data(1, "t.example");
  srv.pop_back();
  EXPECT_FALSE(parse_dns_answer(message("h", kTypeSrv, {{"h", kTypeSrv, srv}}), "h", {}).ok());
  // A compression loop.
  std::vector<std::uint8_t> loop;
  put16(loop, 0);
  put16(loop, 0);
  put16(loop, 1);
  auto m = message("h", kTypeSrv, {});
  m[7] = 1;
  const std::size_t rr_at = m.size();
  put_rr(m, {"h", kTypeSrv, loop});
  const std::size_t name_at = m.size();
  m[rr_at + 3 + 8 + 1] = 8;  // rdlength's low byte: 6 + the pointer
  m.push_back(static_cast<std::uint8_t>(0xc0 | (name_at >> 8)));
  m.push_back(static_cast<std::uint8_t>(name_at));  // points at itself
  const auto r = parse_dns_answer(m, "h", {});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error, HasSubstr("answer record 0"));
  // Random bytes never crash.
  std::uint32_t seed = 1;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> junk(good);
    for (int k = 0; k < 4; ++k) {
      seed = seed * 1103515245 + 12345;
      junk[(seed >> 8) % junk.size()] = static_cast<std::uint8_t>(seed >> 16);
    }
    (void)parse_dns_answer(junk, "h", {});
  }
}

// ---------------------------------------------------------------------------
// The manager: files

constexpr const char* kJsonV1 = R"([{"targets": ["a:9100"], "labels": {"env": "prod"}}])";
constexpr const char* kJsonV2 = R"([{"targets": ["a:9100", "b:9100"], "labels": {"env": "prod"}}])";

TEST(ManagerFiles, ReadsJsonAndYamlAtApply) {
  TempDir dir;
  const std::string json = dir.write("nodes.json", kJsonV1);
  const std::string yaml = dir.write("dbs.yaml", "- targets: [db:5432]\n- targets: [db2:5432]\n");
  Manager m({});
  m.apply({{.job = "node",
            .static_groups = {{.source = "static:0",
                               .targets = {LabelSet::from({{"__address__", "s:1"}})},
                               .labels = {}}},
            .files = {{.files = {json, yaml}}}}});
  const auto groups = m.groups("node");
  EXPECT_THAT(sources(groups), ElementsAre("static:0", json + ":0", yaml + ":0", yaml + ":1"));
  EXPECT_EQ(groups[1].labels.get("__meta_filepath"), json);
  EXPECT_THAT(addresses(groups[2]), ElementsAre("db:5432"));
  EXPECT_THAT(m.errors("node"), IsEmpty());
  EXPECT_THAT(m.groups("other"), IsEmpty());
  EXPECT_THAT(m.errors("other"), IsEmpty());
}

TEST(ManagerFiles, PollSeesChangesDeletionsAndNewGlobMatches) {
  TempDir dir;
  const std::string a = dir.write("a.json", kJsonV1);
  dir.write("b.json", R"([{"targets": ["b:1"]}])");
  dir.write("ignored.yml", "- targets: [x:1]\n");
  Changes changes;
  Manager m({.on_change = changes.callback(), .file_poll_interval_ms = 20});
  m.apply({{.job = "node",
            .files = {{.files = {dir.path("*.json")}, .refresh_interval_ms = 3'600'000}}}});
  EXPECT_THAT(sources(m.groups("node")), ElementsAre(a + ":0", dir.path("b.json") + ":0"));
  EXPECT_EQ(changes.count("node"), 0);  // apply() does not call on_change

  // A change, picked up by the poll long before refresh_interval.
  dir.write("a.json", kJsonV2);
  ASSERT_TRUE(changes.wait(
      "node", [](const auto& g) { return g.size() == 2 && g[0].targets.size() == 2; }));
  EXPECT_THAT(addresses(m.groups("node")[0]), ElementsAre("a:9100", "b:9100"));

  // A new file matching the glob (Go's * matches a leading dot too).
  const std::string c = dir.write(".c.json", R"([{"targets": ["c:1"]}])");
  ASSERT_TRUE(changes.wait("node", [](const auto& g) { return g.size() == 3; }));
  EXPECT_THAT(sources(m.groups("node")),
              ElementsAre(c + ":0", a + ":0", dir.path("b.json") + ":0"));

  // A deleted file loses its groups.
  fs::remove(a);
  ASSERT_TRUE(changes.wait("node", [](const auto& g) { return g.size() == 2; }));
  EXPECT_THAT(sources(m.groups("node")), ElementsAre(c + ":0", dir.path("b.json") + ":0"));
  EXPECT_THAT(m.errors("node"), IsEmpty());
}

TEST(ManagerFiles, BrokenFileKeepsItsGroupsAndLogsOncePerReason) {
  TempDir dir;
  const std::string log_path = dir.path("log.jsonl");
  firebreak::configure_logging({.level = firebreak::LogLevel::kInfo,
                                .format = firebreak::LogFormat::kJson,
                                .file = log_path});
  const std::string a = dir.write("a.json", kJsonV1);
  Changes changes;
  Manager m({.on_change = changes.callback(), .file_poll_interval_ms = 20});
  m.apply({{.job = "node", .files = {{.files = {a}}}}});
  const auto before = m.groups("node");
  ASSERT_EQ(before.size(), 1u);

  dir.write("a.json", "[\n {\"targets\": [\"a:9100\", 9100]}\n]");
  ASSERT_TRUE(eventually([&] { return !m.errors("node").empty(); }));
  EXPECT_THAT(m.errors("node"),
              ElementsAre(std::pair<std::string, std::string>(
                  "file " + a, "line 2: group 0: targets: expected a string, got a number")));
  EXPECT_EQ(m.groups("node"), before);
  EXPECT_EQ(changes.count("node"), 0);

  // The same mistake again (a new file, same reason): no second warning.
  dir.write("a.json", "[\n {\"targets\": [\"a:9100\", 9100]}  ]");
  // Another reason: a second warning.
  std::this_thread::sleep_for(100ms);
  dir.write("a.json", "[{\"targets\": [\"a:9100\"]}");
  ASSERT_TRUE(eventually([&] {
    const auto e = m.errors("node");
    return !e.empty() && e[0].second.find("json: syntax error") != std::string::npos;
  }));
  EXPECT_EQ(m.groups("node"), before);

  // Fixed: new groups, the error is gone.
  dir.write("a.json", kJsonV2);
  ASSERT_TRUE(changes.wait(
      "node", [](const auto& g) { return g.size() == 1 && g[0].targets.size() == 2; }));
  EXPECT_THAT(m.errors("node"), IsEmpty());
  m.stop();

  firebreak::flush_logs();
  std::ifstream in(log_path);
  int failed = 0, recovered = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(a) == std::string::npos) continue;
    if (line.find("\"file_sd_read_failed\"") != std::string::npos) ++failed;
    if (line.find("\"file_sd_recovered\"") != std::string::npos) ++recovered;
  }
  firebreak::configure_logging({});
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(recovered, 1);
}

TEST(ManagerFiles, MissingPlainPathIsShownAndBrokenFileAtStartHasNoGroups) {
  TempDir dir;
  const std::string bad = dir.write("bad.yml", "- targets: [a:1\n");
  Manager m({.file_poll_interval_ms = 20});
  m.apply({{.job = "j", .files = {{.files = {dir.path("missing.json"), bad}}}}});
  EXPECT_THAT(m.groups("j"), IsEmpty());
  const auto errors = m.errors("j");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], (std::pair<std::string, std::string>("file " + bad,
                                                            "line 2, column 1: yaml: end of "
                                                            "sequence flow not found")));
  EXPECT_EQ(errors[1], (std::pair<std::string, std::string>("file " + dir.path("missing.json"),
                                                            "no such file")));
}

TEST(ManagerFiles, RefreshIntervalRereadsWhatThePollCannotSee) {
  // An in-place rewrite that keeps size, inode and mtime is invisible to the
  // poll; refresh_interval (on the injected clock) re-reads it anyway.
  TempDir dir;
  const std::string a = dir.write("a.json", R"([{"targets": ["a:1"]}])");
  struct stat st {};
  ASSERT_EQ(::stat(a.c_str(), &st), 0);
  firebreak::ManualClock clock;
  Changes changes;
  Manager m({.clock = &clock, .on_change = changes.callback(), .file_poll_interval_ms = 20});
  m.apply({{.job = "j", .files = {{.files = {a}, .refresh_interval_ms = 60'000}}}});
  {
    std::fstream f(a, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(15);
    f << 'b';  // a:1 -> b:1
  }
  const timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, a.c_str(), times, 0), 0);

  clock.advance(30ms);  // a poll: nothing to see
  EXPECT_FALSE(changes.wait(
      "j", [](const auto&) { return true; }, 200ms));
  EXPECT_THAT(addresses(m.groups("j")[0]), ElementsAre("a:1"));

  clock.advance(60s);
  ASSERT_TRUE(changes.wait("j", [](const auto& g) { return addresses(g[0])[0] == "b:1"; }));
}

TEST(ManagerFiles, ReapplyKeepsTheStateOfUnchangedConfigs) {
  TempDir dir;
  const std::string a = dir.write("a.json", kJsonV1);
  Manager m({.file_poll_interval_ms = 3'600'000});
  const JobDiscovery job{.job = "j", .static_groups = {}, .files = {{.files = {a}}}, .dns = {}};
  m.apply({job});
  const auto before = m.groups("j");
  dir.write("a.json", "not json");
  m.apply({job});  // reads the broken file: keeps the groups it had
  EXPECT_EQ(m.groups("j"), before);
  EXPECT_EQ(m.errors("j").size(), 1u);
  // A job no longer configured disappears.
  m.apply({{.job = "k"}});
  EXPECT_THAT(m.groups("j"), IsEmpty());
  EXPECT_THAT(m.errors("j"), IsEmpty());
}

TEST(ManagerFiles, StopIsIdempotentAndApplyStartsAgain) {
  TempDir dir;
  const std::string a = dir.write("a.json", kJsonV1);
  Changes changes;
  Manager m({.on_change = changes.callback(), .file_poll_interval_ms = 20});
  m.apply({{.job = "j", .files = {{.files = {a}}}}});
  m.stop();
  m.stop();
  EXPECT_EQ(m.groups("j").size(), 1u);
  m.apply({{.job = "j", .files = {{.files = {a}}}}});
  dir.write("a.json", kJsonV2);
  ASSERT_TRUE(changes.wait("j", [](const auto& g) { return g[0].targets.size() == 2; }));
}

// ---------------------------------------------------------------------------
// The manager: DNS, against the fake server

TEST(ManagerDns, SrvAddressesAndRefresh) {
  FakeDnsServer dns;
  ASSERT_TRUE(dns.ok());
  dns.set("_node._tcp.test", kTypeSrv,
          {{"_node._tcp.test", kTypeSrv, srv_data(9100, "n1.test")},
           {"_node._tcp.test", kTypeSrv, srv_data(9100, "n2.test")}});
  dns.set("web.test", kTypeA, {{"web.test", kTypeA, a_data("192.0.2.10")}});
  dns.set("web6.test", kTypeAaaa, {{"web6.test", kTypeAaaa, aaaa_data("2001:db8::10")}});
  Changes changes;
  Manager m(
      {.on_change = changes.callback(), .dns_servers = {dns.address()}, .dns_timeout_ms = 2000});
  m.apply({{.job = "node",
            .dns = {{.names = {"_node._tcp.test", "_node._tcp.test"}, .refresh_interval_ms = 50},
                    {.names = {"web.test."}, .type = DnsSdConfig::Type::kA, .port = 80},
                    {.names = {"web6.test"}, .type = DnsSdConfig::Type::kAaaa, .port = 443}}}});
  auto groups = m.groups("node");
  ASSERT_EQ(groups.size(), 3u) << ::testing::PrintToString(m.errors("node"));
  EXPECT_EQ(groups[0].source, "_node._tcp.test");
  EXPECT_THAT(addresses(groups[0]), ElementsAre("n1.test:9100", "n2.test:9100"));
  EXPECT_EQ(groups[0].targets[0].get("__meta_dns_srv_record_target"), "n1.test.");
  EXPECT_EQ(groups[0].targets[0].get("__meta_dns_name"), "_node._tcp.test");
  EXPECT_EQ(groups[1].source, "web.test.");
  EXPECT_THAT(addresses(groups[1]), ElementsAre("192.0.2.10:80"));
  EXPECT_THAT(addresses(groups[2]), ElementsAre("[2001:db8::10]:443"));
  EXPECT_THAT(m.errors("node"), IsEmpty());

  // The SRV config refreshes every 50 ms: a new answer shows.
  dns.set("_node._tcp.test", kTypeSrv, {{"_node._tcp.test", kTypeSrv, srv_data(9200, "n3.test.")}});
  ASSERT_TRUE(changes.wait("node", [](const auto& g) {
    return !g.empty() && g[0].targets.size() == 1 && addresses(g[0])[0] == "n3.test:9200";
  }));
}

TEST(ManagerDns, NxdomainAndNoDataGiveEmptyGroups) {
  FakeDnsServer dns;
  ASSERT_TRUE(dns.ok());
  dns.set("has-a.test", kTypeA, {{"has-a.test", kTypeA, a_data("192.0.2.1")}});
  Manager m({.dns_servers = {dns.address()}, .dns_timeout_ms = 2000});
  m.apply(
      {{.job = "j",
        .dns = {{.names = {"nothing.test.", "has-a.test."}, .type = DnsSdConfig::Type::kSrv}}}});
  const auto groups = m.groups("j");
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0], (TargetGroup{.source = "nothing.test.", .targets = {}, .labels = {}}));
  EXPECT_EQ(groups[1], (TargetGroup{.source = "has-a.test.", .targets = {}, .labels = {}}));
  EXPECT_THAT(m.errors("j"), IsEmpty());
}

TEST(ManagerDns, SilentServerKeepsPreviousGroups) {
  FakeDnsServer dns;
  ASSERT_TRUE(dns.ok());
  dns.set("svc.test", kTypeSrv, {{"svc.test", kTypeSrv, srv_data(80, "a.test")}});
  Manager m({.dns_servers = {dns.address()}, .dns_timeout_ms = 1000});
  m.apply({{.job = "j", .dns = {{.names = {"svc.test."}, .refresh_interval_ms = 50}}}});
  const auto before = m.groups("j");
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(before[0].targets.size(), 1u);

  dns.set_mode(FakeDnsServer::Mode::kSilent);
  ASSERT_TRUE(eventually([&] { return !m.errors("j").empty(); }));
  const auto errors = m.errors("j");
  EXPECT_EQ(errors[0].first, "dns svc.test.");
  EXPECT_THAT(errors[0].second, HasSubstr("no answer from the DNS servers"));
  EXPECT_EQ(m.groups("j"), before);

  dns.set_mode(FakeDnsServer::Mode::kServfail);  // also a failure
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(m.groups("j"), before);

  dns.set_mode(FakeDnsServer::Mode::kAnswer);
  ASSERT_TRUE(eventually([&] { return m.errors("j").empty(); }));
  EXPECT_EQ(m.groups("j"), before);
}

TEST(ManagerDns, NameNeverResolvedHasNoGroupAndLookupsRunInParallel) {
  FakeDnsServer dns;
  ASSERT_TRUE(dns.ok());
  dns.set_mode(FakeDnsServer::Mode::kSilent);
  Manager m({.dns_servers = {dns.address()}, .dns_timeout_ms = 1000});
  const auto start = std::chrono::steady_clock::now();
  m.apply({{.job = "j", .dns = {{.names = {"a.test.", "b.test.", "c.test.", "d.test."}}}}});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 3500ms);  // one after the other would take 4 s
  EXPECT_THAT(m.groups("j"), IsEmpty());
  EXPECT_EQ(m.errors("j").size(), 4u);
  EXPECT_GE(dns.queries(), 4);
}

TEST(ManagerDns, MalformedAnswerKeepsPreviousGroup) {
  FakeDnsServer dns;
  ASSERT_TRUE(dns.ok());
  dns.set("svc.test", kTypeSrv, {{"svc.test", kTypeSrv, srv_data(80, "a.test")}});
  Manager m({.dns_servers = {dns.address()}, .dns_timeout_ms = 1000});
  m.apply({{.job = "j", .dns = {{.names = {"svc.test."}, .refresh_interval_ms = 50}}}});
  const auto before = m.groups("j");
  ASSERT_EQ(before.size(), 1u);
  dns.set_mode(FakeDnsServer::Mode::kMalformed);
  ASSERT_TRUE(eventually([&] { return !m.errors("j").empty(); }));
  EXPECT_THAT(m.errors("j")[0].second, HasSubstr("malformed DNS message"));
  EXPECT_EQ(m.groups("j"), before);
}

TEST(ManagerDns, Ipv6Server) {
  FakeDnsServer dns(AF_INET6);
  if (!dns.ok()) GTEST_SKIP() << "no IPv6 loopback";
  dns.set("v6.test", kTypeSrv, {{"v6.test", kTypeSrv, srv_data(1234, "t.test")}});
  Manager m({.dns_servers = {dns.address()}, .dns_timeout_ms = 2000});
  m.apply({{.job = "j", .dns = {{.names = {"v6.test."}}}}});
  const auto groups = m.groups("j");
  ASSERT_EQ(groups.size(), 1u) << ::testing::PrintToString(m.errors("j"));
  EXPECT_THAT(addresses(groups[0]), ElementsAre("t.test:1234"));
}

TEST(ManagerDns, BadServerAddressIsAnError) {
  Manager m({.dns_servers = {"dns.example.com:53"}, .dns_timeout_ms = 1000});
  m.apply({{.job = "j", .dns = {{.names = {"x.test."}}}}});
  ASSERT_EQ(m.errors("j").size(), 1u);
  EXPECT_THAT(m.errors("j")[0].second, HasSubstr("bad DNS server"));
}

}  // namespace
}  // namespace watch::discovery
