// The queue's delivery contract: leases, acks, retries with backoff,
// dead letters, backlog counts, pruning, and atomic claims across processes.
#include "common/queue.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "firebreak/clock.h"
#include "temp_db.h"

namespace shop {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class QueueTest : public ::testing::Test {
 protected:
  Queue make_queue(QueueOptions options = {}) {
    options.clock = &clock_;
    return Queue(temp_.db(), options);
  }
  std::int64_t enqueue(Queue& q, std::string payload = "{}") {
    return q.enqueue({.type = "order.created",
                      .headers = {{"traceparent",
                                   "00-0af7651916cd43dd8448eb211c80319c-"
                                   "b7ad6b7169203331-01"}},
                      .payload = std::move(payload)});
  }
  std::string state(std::int64_t id) {
    auto q = temp_.db().query("SELECT state FROM messages WHERE id = ?");
    q.bind(1, id);
    return q.next() ? q.text(0) : "";
  }

  firebreak::ManualClock clock_;
  test::TempDb temp_;
};

TEST_F(QueueTest, ClaimReturnsTheMessageWithItsHeadersAndPayload) {
  Queue q = make_queue();
  const auto id = enqueue(q, R"({"order_id":7})");
  const auto m = q.claim("w1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, id);
  EXPECT_EQ(m->type, "order.created");
  EXPECT_EQ(m->payload, R"({"order_id":7})");
  EXPECT_EQ(m->attempt, 1);
  EXPECT_EQ(m->headers.at("traceparent"),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
}

TEST_F(QueueTest, ClaimIsEmptyWhenNothingIsVisible) {
  Queue q = make_queue();
  EXPECT_FALSE(q.claim("w1"));
}

TEST_F(QueueTest, ClaimsAreInEnqueueOrder) {
  Queue q = make_queue();
  const auto a = enqueue(q);
  const auto b = enqueue(q);
  EXPECT_EQ(q.claim("w1")->id, a);
  EXPECT_EQ(q.claim("w1")->id, b);
}

TEST_F(QueueTest, ALeasedMessageIsInvisibleUntilTheLeaseRunsOut) {
  Queue q = make_queue({.lease = seconds(30)});
  enqueue(q);
  ASSERT_TRUE(q.claim("w1"));
  clock_.advance(seconds(29));
  EXPECT_FALSE(q.claim("w2"));
  clock_.advance(seconds(2));
  const auto again = q.claim("w2");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attempt, 2);
}

TEST_F(QueueTest, AckMarksDoneAndTheMessageIsNotDeliveredAgain) {
  Queue q = make_queue({.lease = seconds(1)});
  const auto id = enqueue(q);
  const auto m = q.claim("w1");
  EXPECT_TRUE(q.ack(*m));
  EXPECT_EQ(state(id), "done");
  clock_.advance(seconds(10));
  EXPECT_FALSE(q.claim("w1"));
}

TEST_F(QueueTest, AckAfterTheLeaseWasTakenOverIsRefused) {
  Queue q = make_queue({.lease = seconds(1)});
  enqueue(q);
  const auto first = q.claim("w1");
  clock_.advance(seconds(2));
  const auto second = q.claim("w2");
  ASSERT_TRUE(second);
  EXPECT_FALSE(q.ack(*first));
  EXPECT_TRUE(q.ack(*second));
}

TEST_F(QueueTest, FailRetriesAfterTheBackoff) {
  Queue q = make_queue({.retry_base = seconds(10)});
  const auto id = enqueue(q);
  EXPECT_EQ(q.fail(*q.claim("w1"), "boom"), FailResult::kRetry);
  EXPECT_EQ(state(id), "ready");
  clock_.advance(seconds(4));  // jitter keeps the delay within 50-100% of 10 s
  EXPECT_FALSE(q.claim("w1"));
  clock_.advance(seconds(7));
  const auto again = q.claim("w1");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attempt, 2);
}

TEST_F(QueueTest, BackoffDoublesUpToItsCap) {
  Queue q = make_queue({.retry_base = milliseconds(100), .retry_max = milliseconds(1000)});
  EXPECT_EQ(q.backoff(1), milliseconds(100));
  EXPECT_EQ(q.backoff(2), milliseconds(200));
  EXPECT_EQ(q.backoff(4), milliseconds(800));
  EXPECT_EQ(q.backoff(5), milliseconds(1000));
  EXPECT_EQ(q.backoff(60), milliseconds(1000));
}

TEST_F(QueueTest, TheLastFailedAttemptDeadLettersTheMessage) {
  Queue q = make_queue({.max_attempts = 2, .retry_base = milliseconds(0)});
  const auto id = enqueue(q);
  EXPECT_EQ(q.fail(*q.claim("w1"), "boom"), FailResult::kRetry);
  EXPECT_EQ(q.fail(*q.claim("w1"), "boom again"), FailResult::kDead);
  EXPECT_EQ(state(id), "dead");
  EXPECT_FALSE(q.claim("w1"));
  auto row = temp_.db().query("SELECT last_error, attempts FROM messages WHERE id = ?");
  row.bind(1, id);
  ASSERT_TRUE(row.next());
  EXPECT_EQ(row.text(0), "boom again");
  EXPECT_EQ(row.int64(1), 2);
}

TEST_F(QueueTest, APermanentFailureDeadLettersAtOnce) {
  Queue q = make_queue();
  const auto id = enqueue(q);
  EXPECT_EQ(q.fail(*q.claim("w1"), "no such order", /*permanent=*/true), FailResult::kDead);
  EXPECT_EQ(state(id), "dead");
}

TEST_F(QueueTest, ALeaseThatRunsOutOnTheLastAttemptDeadLettersTheMessage) {
  Queue q = make_queue({.lease = seconds(1), .max_attempts = 2});
  const auto id = enqueue(q);
  ASSERT_TRUE(q.claim("w1"));  // the worker dies
  clock_.advance(seconds(2));
  ASSERT_TRUE(q.claim("w2"));  // and the next one
  clock_.advance(seconds(2));
  EXPECT_FALSE(q.claim("w3"));
  EXPECT_EQ(state(id), "dead");
}

TEST_F(QueueTest, BacklogCountsWaitingInHandAndDeadAndTheOldestWaiting) {
  Queue q = make_queue({.lease = seconds(10)});
  const double t0 = clock_.wall_seconds();
  enqueue(q);
  clock_.advance(seconds(5));
  enqueue(q);
  enqueue(q);
  const auto m = q.claim("w1");  // the oldest, now in hand
  q.fail(*q.claim("w1"), "bad", /*permanent=*/true);
  const QueueBacklog b = q.backlog();
  EXPECT_EQ(b.waiting, 1);
  EXPECT_EQ(b.in_hand, 1);
  EXPECT_EQ(b.dead, 1);
  ASSERT_TRUE(b.oldest_enqueued_at);
  EXPECT_DOUBLE_EQ(*b.oldest_enqueued_at, t0 + 5);

  clock_.advance(seconds(11));  // the lease ran out: waiting again
  const QueueBacklog later = q.backlog();
  EXPECT_EQ(later.waiting, 2);
  EXPECT_EQ(later.in_hand, 0);
  EXPECT_DOUBLE_EQ(*later.oldest_enqueued_at, t0);
  (void)m;
}

TEST_F(QueueTest, PruneDeletesOnlyDoneMessagesOlderThanTheRetention) {
  Queue q = make_queue();
  for (int i = 0; i < 3; ++i) enqueue(q);
  q.ack(*q.claim("w1"));
  q.ack(*q.claim("w1"));
  clock_.advance(seconds(3600));
  const auto recent = enqueue(q);
  q.ack(*q.claim("w1"));  // the third old one: done just now
  EXPECT_EQ(q.prune_done(seconds(1800)), 2);
  EXPECT_EQ(temp_.count("SELECT count(*) FROM messages"), 2);
  EXPECT_EQ(state(recent), "ready");
}

TEST_F(QueueTest, EnqueueIsRolledBackWithItsTransaction) {
  Queue q = make_queue();
  {
    Transaction tx(temp_.db());
    enqueue(q);
  }  // not committed
  EXPECT_EQ(q.backlog().waiting, 0);
}

// Four processes drain one queue at once: every message is claimed exactly
// once (SQLite's write lock makes each claim atomic).
TEST(QueueAcrossProcesses, ConcurrentClaimsNeverHandOutAMessageTwice) {
  test::TempDb temp;
  constexpr int kMessages = 200;
  constexpr int kWorkers = 4;
  {
    Queue q(temp.db());
    Transaction tx(temp.db());
    for (int i = 0; i < kMessages; ++i) q.enqueue({.type = "t", .payload = "{}"});
    tx.commit();
  }
  std::vector<pid_t> children;
  for (int w = 0; w < kWorkers; ++w) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int status = 0;
      try {
        Db db({.path = temp.path()});
        Queue q(db);
        std::ofstream out(temp.path() + ".claims." + std::to_string(w));
        while (auto m = q.claim("w" + std::to_string(w))) {
          out << m->id << "\n";
          q.ack(*m);
        }
      } catch (...) {
        status = 1;
      }
      ::_exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::multiset<std::int64_t> claimed;
  for (int w = 0; w < kWorkers; ++w) {
    const std::string file = temp.path() + ".claims." + std::to_string(w);
    std::ifstream in(file);
    for (std::int64_t id; in >> id;) claimed.insert(id);
    std::remove(file.c_str());
  }
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(),
            static_cast<std::size_t>(kMessages));
  EXPECT_EQ(temp.count("SELECT count(*) FROM messages WHERE state = 'done'"), kMessages);
}

}  // namespace
}  // namespace shop
