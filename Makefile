# Two commands: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?=
# The Dask door: the scheduler and workers listen on this machine only unless HOST names an address others can
# reach; then they speak TLS with the certificates in CERTS (make certs), and refuse anyone without one.
HOST   ?= 127.0.0.1
CERTS  ?= certs
PROTOCOL ?= $(if $(filter 127.0.0.1 localhost ::1,$(HOST)),tcp,tls)
SCHEDULER ?= $(PROTOCOL)://$(if $(filter tcp,$(PROTOCOL)),127.0.0.1,$(HOST)):8786
TLS_FOR = $(if $(filter tls,$(PROTOCOL)),--tls-ca-file $(CERTS)/ca.pem --tls-cert $(CERTS)/$(1).pem --tls-key $(CERTS)/$(1)-key.pem)
APT    := DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: install system-packages browser demo sample reports pdf test bench lab coach clean scheduler worker certs nbstripout

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
	$(MAKE) --no-print-directory nbstripout
	touch $(STAMP)

# git keeps the tracked notebooks without outputs (.gitattributes): the filter runs each worktree's own .venv
# (a relative path), and a missing .venv leaves a notebook as it is rather than failing a commit.
nbstripout:
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git config filter.nbstripout.clean '.venv/bin/python -m nbstripout --keep-id'; \
	  git config filter.nbstripout.smudge cat; \
	  git config diff.ipynb.textconv '.venv/bin/python -m nbstripout --keep-id -t'; \
	fi

sample: install
	$(BIN)/systemic sample --out data/councils

reports: install
	$(BIN)/systemic report data/councils --out reports $(if $(JOBS),-j $(JOBS),)

# The reports and an A4 PDF beside each page (Chromium prints them on this machine).
pdf: install browser
	$(BIN)/systemic report data/councils --out reports --pdf $(if $(JOBS),-j $(JOBS),)

demo: sample reports

test: install browser
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

bench: install
	$(BIN)/python benchmarks/run_all.py

# A Dask cluster for `systemic report --scheduler ...` (or SYSTEMIC_SCHEDULER), when one machine is not enough. A
# scheduler runs any code a client sends it, as the workers' user: by default both listen on 127.0.0.1 only (this
# machine). For a cluster of several machines: `make certs` once (copy certs/ca.pem and the role's two files to each
# machine), `make scheduler HOST=<its address>` (tls, port 8786; a job whose worker dies is given up at once and the
# batch runs it once more elsewhere), `make worker HOST=<this machine's address> SCHEDULER=tls://<scheduler>:8786`
# on each machine that renders: one single-threaded worker process per core (JOBS=N for N), and
# `systemic report --scheduler tls://<scheduler>:8786`. The dashboards listen on 127.0.0.1 (an SSH tunnel reaches
# them). Workers need this project installed (make install), no
# shared folder: councils and notebooks are sent to them and the reports come back to the machine that asked.
certs: install
	$(BIN)/systemic certs $(CERTS) $(if $(filter-out 127.0.0.1 localhost ::1,$(HOST)),--host $(HOST))

scheduler: install
	@test "$(PROTOCOL)" = tcp || test -f $(CERTS)/scheduler.pem || { echo "HOST=$(HOST) is reachable from other machines: make certs first (TLS)"; exit 1; }
	DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0 $(BIN)/dask scheduler --host $(HOST) --protocol $(PROTOCOL) --dashboard-address 127.0.0.1:8787 $(call TLS_FOR,scheduler)

worker: install
	@test "$(PROTOCOL)" = tcp || test -f $(CERTS)/worker.pem || { echo "a tls cluster: copy ca.pem, worker.pem and worker-key.pem into $(CERTS)/ (make certs)"; exit 1; }
	SYSTEMIC_ROOT=$(CURDIR) $(BIN)/dask worker $(SCHEDULER) --host $(HOST) --dashboard-address 127.0.0.1:0 --nthreads 1 --nworkers $(or $(JOBS),-1) $(call TLS_FOR,worker)

# As root (a container, CI) JupyterLab needs --allow-root. Saving a notebook strips its outputs (systemic_lib/cli/lab.py).
lab: install sample
	$(BIN)/jupyter lab notebooks/ $(LAB_ARGS)

LAB_ARGS = --ContentsManager.pre_save_hook=systemic_lib.cli.lab.strip_outputs $(if $(filter 0,$(shell id -u)),--allow-root,)

# The coach app (Voila) on the first sample council: `make coach`, or `make coach COUNCIL=path ARGS="--room"`.
coach: install sample
	$(BIN)/systemic coach $(COUNCIL) $(ARGS)

clean:
	rm -rf $(VENV) reports .pytest_cache
