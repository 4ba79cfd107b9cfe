-- wrk script: POST the ~300-byte binary CloudEvent of post-event.lua to a KafkaSink.
dofile("benchmarks/post-event.lua")
