-- wrk script for bench/shop_http_bench.sh: GET /orders/{id} over the seeded
-- orders (ids 1..SHOP_BENCH_ORDERS), so the route template, not one path, is hot.
local orders = tonumber(os.getenv("SHOP_BENCH_ORDERS") or "100")
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", "/orders/" .. ((counter % orders) + 1))
end
