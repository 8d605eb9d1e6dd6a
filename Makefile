# Two commands: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?=
SCHEDULER ?= tcp://127.0.0.1:8786
APT    := DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: install system-packages browser demo sample reports test bench lab coach clean scheduler worker

install: system-packages $(STAMP)

# Graphviz draws the process maps (Map flow stage).
system-packages:
	@command -v dot >/dev/null 2>&1 || { echo "Installing Graphviz (apt-get)"; \
	  $(APT) update -qq && $(APT) install -y -qq --no-install-recommends graphviz >/dev/null; }

# Headless Chromium renders the HTML reports in the browser tests.
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "Installing Chromium (apt-get)"; \
	  $(APT) update -qq && $(APT) install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	# lifelines checks endtoend's Kaplan-Meier in tests only; its metadata pins pandas<3, so it and its own
	# dependencies go in without theirs (numpy, scipy, pandas, matplotlib are already installed)
	$(BIN)/python -m pip install -q --no-deps lifelines autograd autograd-gamma formulaic interface_meta wrapt narwhals typing-extensions
	$(BIN)/python -m ipykernel install --sys-prefix --name systemic --display-name "Python (systemic)" >/dev/null
	touch $(STAMP)

sample: install
	$(BIN)/systemic sample --out data/councils

reports: install
	$(BIN)/systemic report data/councils --out reports $(if $(JOBS),-j $(JOBS),)

demo: sample reports

test: install browser
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

bench: install
	$(BIN)/python benchmarks/run_all.py

# A Dask cluster for `systemic report --scheduler tcp://HOST:8786` (or SYSTEMIC_SCHEDULER), when one machine is
# not enough. `make scheduler` on one machine (port 8786; a job whose worker dies is retried once, elsewhere);
# `make worker SCHEDULER=tcp://HOST:8786` on each machine that renders: one single-threaded worker process per core
# (JOBS=N for N). Workers need this project installed (make install: the package and the `systemic` kernel), no
# shared folder: councils and notebooks are sent to them and the reports come back to the machine that asked.
scheduler: install
	DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1 $(BIN)/dask scheduler

worker: install
	SYSTEMIC_ROOT=$(CURDIR) $(BIN)/dask worker $(SCHEDULER) --nthreads 1 --nworkers $(or $(JOBS),-1)

lab: install sample
	$(BIN)/jupyter lab notebooks/

# The coach app (Voila) on the first sample council: `make coach`, or `make coach COUNCIL=path ARGS="--room"`.
coach: install sample
	$(BIN)/systemic coach $(COUNCIL) $(ARGS)

clean:
	rm -rf $(VENV) reports .pytest_cache
