#!/usr/bin/env bash
# One accelerator call (issue 13/16): Table 2's six strategies and Table 3's
# model sizes trained long with the demo recipe, several jobs sharing the card,
# then the `base` train-step throughput on the quiet card.
#   bash benchmarks/accelerator_run.sh BUNDLE OUT [TRAIN_BUDGET_S] [JOBS...]
# JOBS are strategy:model:epochs (default below). Everything lands in
# OUT/results.tgz (score it here with `accelerator_table2 score`), a summary on stdout.
set -u
BUNDLE=$1; OUT=$2; BUDGET=${3:-330}; shift $(( $# < 3 ? $# : 3 ))
JOBS=${*:-"semantic-ids-cf:tiny:20 semantic-ids-cf:wide:20 semantic-ids-cf:small:20
  semantic-ids-text:wide:20 artist-name-track-name:wide:20 artist-iid-track-seq:wide:20
  artist-int-track-seq:wide:20 track-int:wide:20"}
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
RES=$(mktemp -d)
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$RES/device.txt" 2>&1
python3 -m benchmarks.accelerator_table2 throughput "$RES/throughput.json" \
  --wait_for "$RES/jobs_done" ${TP_ARGS:-} > "$RES/throughput.log" 2>&1 &
TP=$!
PIDS=()
for job in $JOBS; do
  IFS=: read -r s m e <<< "$job"
  timeout $((BUDGET + 150)) python3 -m benchmarks.accelerator_table2 run "$BUNDLE" "$RES" \
    --strategy "$s" --model "$m" --epochs "$e" --train_deadline_s "$BUDGET" \
    > "$RES/$s.$m.log" 2>&1 &
  PIDS+=($!)
done
wait "${PIDS[@]}"
touch "$RES/jobs_done"
( sleep $((BUDGET / 2 + 60)); kill $TP 2>/dev/null ) &
wait $TP
tar czf "$OUT/results.tgz" -C "$RES" .
cat "$RES/device.txt"
grep -h "best validation\|stopped after\|Error\|error" "$RES"/*.log | tail -40
cat "$RES/throughput.json" 2>/dev/null || tail -5 "$RES/throughput.log"
