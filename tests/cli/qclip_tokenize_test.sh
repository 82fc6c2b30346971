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

# Hostile vocabularies and input lines.
mkfifo "$tmp/fifo"
expect_error "FIFO as the vocabulary (no hang)" "not a regular file" --vocab "$tmp/fifo"
{ cat "$data/pubmedbert-vocab.txt"; head -c 1048576 /dev/zero | tr '\0' a; echo; } >"$tmp/long_line.txt"
expect_error "vocabulary with a 1 MB line" "1048576 bytes long" --vocab "$tmp/long_line.txt"
head -c 100000 /dev/urandom >"$tmp/random.txt"
expect_error "random bytes as the vocabulary" "random.txt: " --vocab "$tmp/random.txt"
err=$(printf '"caf\xc3 x"\n' | timeout 60 "$bin" --vocab "$data/pubmedbert-vocab.txt" 2>&1 >/dev/null)
[[ $? -eq 1 && $err == *"stdin line 1"* ]] && pass "invalid UTF-8 in a JSON string" || fail "invalid UTF-8: $err"
# A 10 MB line is one word of more than 100 characters: [CLS] [UNK] [SEP], in bounded time.
out=$({ printf '"'; head -c 10000000 /dev/zero | tr '\0' a; printf '"\n'; } |
  timeout 60 "$bin" --vocab "$data/pubmedbert-vocab.txt" --max-length 256)
[[ $out == "[2,1,3]" ]] && pass "a 10 MB line" || fail "a 10 MB line: ${out:0:100}"
err=$({ printf '"'; head -c 17000000 /dev/zero | tr '\0' a; printf '"\n'; } |
  timeout 60 "$bin" --vocab "$data/pubmedbert-vocab.txt" 2>&1 >/dev/null)
[[ $? -eq 1 && $err == *"above the limit of 16777216 bytes"* ]] && pass "a 17 MB line is refused" ||
  fail "a 17 MB line: ${err:0:200}"
finish
