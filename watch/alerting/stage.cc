#include "watch/alerting/stage.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "firebreak/log.h"
#include "watch/alerting/webhook.h"
#include "watch/store/store.h"

namespace watch::alerting {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::kContinue:
      return "continue";
    case Verdict::kDelivered:
      return "delivered";
    case Verdict::kDropped:
      return "dropped";
    case Verdict::kRetryLater:
      return "retry_later";
  }
  return "unknown";
}

Verdict Pipeline::exec(const StageContext& ctx, Message& message) {
  for (auto& stage : stages_) {
    Verdict v = stage->exec(ctx, message);
    if (v != Verdict::kContinue) return v;
  }
  return Verdict::kDelivered;
}

NotificationLog::NotificationLog(store::Store* store) : store_(store) {
  if (!store_) return;
  for (const auto& r : store_->load_log()) {
    std::uint64_t fp = std::strtoull(r.fingerprint.c_str(), nullptr, 16);
    sent_[Key(r.receiver, fp, r.resolved, r.starts_at_ms)] = r.sent_at_ms;
  }
}

bool NotificationLog::contains(std::string_view receiver, const Message& m) const {
  std::lock_guard lock(mu_);
  return sent_.contains(Key(std::string(receiver), m.fingerprint, m.notification.resolved,
                            m.notification.starts_at_ms));
}

void NotificationLog::record(std::string_view receiver, const Message& m, std::int64_t sent_ms) {
  std::lock_guard lock(mu_);
  sent_[Key(std::string(receiver), m.fingerprint, m.notification.resolved,
            m.notification.starts_at_ms)] = sent_ms;
  if (!store_) return;
  // In order: an earlier record the store refused goes first.
  unsaved_.push_back({m.id, std::string(receiver), m.fingerprint, m.notification.resolved,
                      m.notification.starts_at_ms, sent_ms});
  flush_locked();
}

std::size_t NotificationLog::flush() {
  std::lock_guard lock(mu_);
  return flush_locked();
}

std::size_t NotificationLog::flush_locked() {
  if (!store_) return 0;
  std::size_t done = 0;
  std::string error;
  for (; done < unsaved_.size(); ++done) {
    const Unsaved& u = unsaved_[done];
    if (!store_->mark_delivered(u.pending_id,
                                {.receiver = u.receiver,
                                 .fingerprint = fingerprint_string(u.fingerprint),
                                 .resolved = u.resolved,
                                 .starts_at_ms = u.starts_at_ms,
                                 .sent_at_ms = u.sent_at_ms},
                                &error))
      break;
  }
  unsaved_.erase(unsaved_.begin(), unsaved_.begin() + static_cast<std::ptrdiff_t>(done));
  if (!unsaved_.empty() && !reported_) {
    // Kept in memory, written when the store takes writes again: a restart
    // before that may send these states once more.
    FB_LOG_ERROR("notification_log_write_failed",
                 "deliveries kept in memory until the store "
                 "takes writes again",
                 {"unsaved", static_cast<std::int64_t>(unsaved_.size())}, {"error", error});
  }
  reported_ = !unsaved_.empty();
  return unsaved_.size();
}

std::size_t NotificationLog::prune(std::int64_t before_ms) {
  std::size_t n = 0;
  {
    std::lock_guard lock(mu_);
    flush_locked();
    n = std::erase_if(sent_, [&](const auto& e) { return e.second < before_ms; });
  }
  if (store_) store_->prune_log(before_ms);
  return n;
}

Verdict DedupStage::exec(const StageContext& ctx, Message& message) {
  return log_.contains(ctx.receiver, message) ? Verdict::kDropped : Verdict::kContinue;
}

Verdict SendStage::exec(const StageContext& ctx, Message& message) {
  const rules::Notification& n = message.notification;
  dispatch::GroupNotification group{.receiver = std::string(ctx.receiver),
                                    .group_key = "{}:" + n.labels.braces(),
                                    .group_labels = n.labels,
                                    .alerts = {to_alert(n)},
                                    .at_ms = n.resolved ? n.ends_at_ms : n.starts_at_ms};
  message.last_result = notifier_.notify(group);
  return message.last_result.ok() ? Verdict::kDelivered : Verdict::kContinue;
}

firebreak::Clock::Duration RetryStage::delay(int attempt) {
  double ms = static_cast<double>(policy_.initial.count()) *
              std::pow(policy_.multiplier, std::max(0, attempt - 1));
  ms = std::min(ms, static_cast<double>(policy_.max.count()));
  if (policy_.jitter > 0) {
    std::uniform_real_distribution<double> d(0.0, std::min(policy_.jitter, 1.0));
    ms *= 1.0 - d(rng_);
  }
  return std::chrono::duration_cast<firebreak::Clock::Duration>(
      std::chrono::duration<double, std::milli>(ms));
}

Verdict RetryStage::exec(const StageContext& ctx, Message& message) {
  if (message.last_result.ok()) return Verdict::kDelivered;
  ++message.attempts;
  const std::string alertname(message.notification.labels.get("alertname"));
  if (!message.last_result.retryable) {
    FB_LOG_WARN("alert_notification_dropped", "not retryable", {"receiver", ctx.receiver},
                {"alertname", alertname}, {"resolved", message.notification.resolved},
                {"error", message.last_result.error});
    return Verdict::kDropped;
  }
  message.next_attempt = ctx.now + delay(message.attempts);
  FB_LOG_DEBUG("alert_notification_retry", "", {"receiver", ctx.receiver}, {"alertname", alertname},
               {"attempt", message.attempts}, {"error", message.last_result.error});
  return Verdict::kRetryLater;
}

}  // namespace watch::alerting
