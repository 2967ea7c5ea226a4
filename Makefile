# Two entry points: `make run` (set up, then the main job) and `make test` (set up, then the suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEMO := runs/demo

.PHONY: setup run train-demo test test-fast bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned, so pip never resolves a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[train,test,cluster]"
	touch $@

setup: $(VENV)/.installed

run: setup
	# read the bundled sample lines (rendered by `linescribe synth`) with the bundled default model
	$(BIN)/linescribe predict examples/lines
	$(BIN)/linescribe eval default examples/lines --confusions 5

train-demo: setup
	rm -rf $(DEMO)
	$(BIN)/linescribe synth $(DEMO)/lines -n 48 --seed 7
	$(BIN)/linescribe train $(DEMO)/lines --val $(DEMO)/lines -o $(DEMO)/model --no-augment \
		--max-steps 600 --max-epochs 1000 --batch-size 8 --lr 0.002 --scheduler constant \
		--val-every 25 --patience 1000 --workers 0
	$(BIN)/linescribe eval $(DEMO)/model/model.safetensors $(DEMO)/lines --confusions 5

test: setup
	$(PY) -m pytest -q -p no:cacheprovider --durations=15

test-fast: setup
	# the edit-test loop: everything but the tests marked slow
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

bench: setup
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf $(VENV) runs
