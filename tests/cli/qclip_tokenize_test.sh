#!/usr/bin/env bash
# qclip-tokenize end to end: every tokenizer fixture case through the CLI (JSON Lines in, id
# arrays out), with and without --max-length 256, and refusals of bad input.
# Usage: qclip_tokenize_test.sh QCLIP_TOKENIZE TESTS_DATA_DIR
set -u
bin=$1
data=$2/tokenizer
source "$(dirname "$0")/lib.sh"

for name in pubmedbert bert-base-uncased; do
  if "$bin" --vocab "$data/$name-vocab.txt" <"$data/$name-cases.texts.jsonl" >"$tmp/ids.jsonl" &&
      diff -q "$tmp/ids.jsonl" "$data/$name-cases.ids.jsonl" >/dev/null; then
    pass "$name: $(wc -l <"$tmp/ids.jsonl") cases exact"
  else
    fail "$name: ids differ"
  fi
  want=$data/$name-cases.ids_max256.jsonl
  [[ -f $want ]] || continue
  if "$bin" --vocab "$data/$name-vocab.txt" --max-length 256 <"$data/$name-cases.texts.jsonl" \
      >"$tmp/ids.jsonl" && diff -q "$tmp/ids.jsonl" "$want" >/dev/null; then
    pass "$name --max-length 256: exact"
  else
    fail "$name --max-length 256: ids differ"
  fi
done

: >"$tmp/empty.txt"
expect_error "missing vocabulary" "cannot" --vocab "$tmp/none.txt"
expect_error "empty vocabulary" "empty" --vocab "$tmp/empty.txt"
err=$(echo 'not json' | timeout 60 "$bin" --vocab "$data/pubmedbert-vocab.txt" 2>&1 >/dev/null)
[[ $? -eq 1 && -n $err ]] && pass "non-JSON line" || fail "non-JSON line: $err"
err=$(echo '[1,2]' | timeout 60 "$bin" --vocab "$data/pubmedbert-vocab.txt" 2>&1 >/dev/null)
[[ $? -eq 1 && -n $err ]] && pass "JSON that is not a string" || fail "JSON non-string: $err"
finish
