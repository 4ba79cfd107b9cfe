-- wrk script: POST the same ~300-byte binary-mode CloudEvent the client benchmark sends.
wrk.method = "POST"
wrk.body = '{"orderId":"A-1001","customer":"c-42","items":[{"sku":"X1","qty":2},{"sku":"Y7","qty":1}],"total":42.5,"currency":"EUR","note":"benchmark event body of roughly three hundred bytes, padded to size........."}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Ce-Specversion"] = "1.0"
wrk.headers["Ce-Type"] = "com.example.order.created"
wrk.headers["Ce-Source"] = "/orders/eu-west-1"
wrk.headers["Ce-Id"] = "6f1c5a2e-8d3b-4b7a-9f1e-2c4d5e6f7a8b"
