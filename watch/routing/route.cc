// The routing tree's matching and inhibition (dispatch/route.go Route.Match,
// inhibit/inhibit.go Inhibitor.Mutes).
#include <fmt/format.h>

#include <algorithm>

#include "watch/routing/routing.h"

namespace watch::routing {

namespace {

// Route.Match, appending to `out`; false when `route` itself does not match.
bool collect_matches(const Route& route, const LabelSet& alert, std::vector<const Route*>& out) {
  if (!matches_all(route.matchers, alert)) return false;
  const std::size_t before = out.size();
  for (const Route& child : route.routes) {
    // A child that matched stops the search unless it says `continue`,
    // whatever it matched below it.
    if (collect_matches(child, alert, out) && !child.continue_matching) break;
  }
  if (out.size() == before) out.push_back(&route);
  return true;
}

}  // namespace

std::vector<const Route*> match_routes(const Route& root, const LabelSet& alert) {
  std::vector<const Route*> out;
  collect_matches(root, alert, out);
  return out;
}

bool inhibits(const InhibitRule& rule, const LabelSet& source, const LabelSet& target) {
  if (!matches_all(rule.target, target) || !matches_all(rule.source, source)) return false;
  const bool equal = std::all_of(rule.equal.begin(), rule.equal.end(), [&](const auto& name) {
    return source.get(name) == target.get(name);
  });
  if (!equal) return false;
  // An alert on both sides of the rule cannot be inhibited by alerts that
  // are on both sides too (itself among them).
  return !(matches_all(rule.source, target) && matches_all(rule.target, source));
}

const LabelSet* find_inhibitor(const InhibitRule& rule, const LabelSet& target,
                               const std::vector<LabelSet>& firing) {
  if (!matches_all(rule.target, target)) return nullptr;
  for (const LabelSet& source : firing)
    if (inhibits(rule, source, target)) return &source;
  return nullptr;
}

const LabelSet* find_inhibitor(const std::vector<InhibitRule>& rules, const LabelSet& target,
                               const std::vector<LabelSet>& firing) {
  for (const InhibitRule& rule : rules)
    if (const LabelSet* source = find_inhibitor(rule, target, firing)) return source;
  return nullptr;
}

}  // namespace watch::routing
