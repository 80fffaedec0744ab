"""geo2map translate as a QGIS Processing script (listed as ``script:geo2map_translate``).

Install: copy this file into the Processing scripts folder of your QGIS profile
(Processing → Toolbox → Scripts → Add Script to Toolbox...), or run
``geo2map qgis install``.

It runs geo2map without touching QGIS's own Python: it calls the ``geo2map``
executable (an argument list, never a shell string) found, in this order, in the
algorithm's advanced "geo2map executable" parameter, the ``GEO2MAP_EXE``
environment variable, the command ``geo2map qgis install`` was run with, or the
``PATH``. Only when there is no executable and
``geo2map`` is importable in QGIS's Python is the library called directly.

Progress goes to the Processing feedback; Cancel stops geo2map, which removes its
temporary file, so no partial output is left; the result loads as a layer with
the input's CRS and extent.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

#: Filled in by ``geo2map qgis install`` with the geo2map command it was installed from.
DEFAULT_EXE = ""
BLENDS = ["cosine", "linear", "none"]
FORMATS = ["GeoTIFF (tiled, DEFLATE)", "Cloud Optimized GeoTIFF"]
RESAMPLES = ["auto", "off"]


class Geo2MapTranslate(QgsProcessingAlgorithm):
    INPUT = "INPUT"
    MODEL = "MODEL"
    OUTPUT = "OUTPUT"
    BANDS = "BANDS"
    TILE_SIZE = "TILE_SIZE"
    OVERLAP = "OVERLAP"
    BLEND = "BLEND"
    RESAMPLE = "RESAMPLE"
    DEVICE = "DEVICE"
    FORMAT = "FORMAT"
    EXE = "GEO2MAP_EXE"

    def name(self) -> str:
        return "geo2map_translate"

    def displayName(self) -> str:
        return "Translate raster (geo2map)"

    def group(self) -> str:
        return "geo2map"

    def groupId(self) -> str:
        return "geo2map"

    def shortHelpString(self) -> str:
        return (
            "Translates a raster with an image-to-image network (e.g. Sentinel-1 SAR to optical RGB) "
            "tile by tile, blending overlaps so no seam shows. The output has the input's CRS, transform "
            "and size. MODEL is a built-in model name (run 'geo2map models list') or a .safetensors or .onnx "
            "model file. Empty options use the model card's values."
        )

    def createInstance(self) -> Geo2MapTranslate:
        return Geo2MapTranslate()

    def initAlgorithm(self, config=None) -> None:  # noqa: ANN001 - QGIS signature
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input raster"))
        self.addParameter(QgsProcessingParameterString(self.MODEL, "Model (built-in name or model file)", "sar2rgb"))
        self.addParameter(
            QgsProcessingParameterString(self.BANDS, "Bands to use, e.g. 3,2,1 (empty: all)", "", optional=True)
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.TILE_SIZE, "Tile size (0: the model's)", QgsProcessingParameterNumber.Integer, 0, minValue=0
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.OVERLAP, "Overlap (-1: the model's)", QgsProcessingParameterNumber.Integer, -1, minValue=-1
            )
        )
        self.addParameter(QgsProcessingParameterEnum(self.BLEND, "Blend", BLENDS, defaultValue=0))
        self.addParameter(
            QgsProcessingParameterEnum(
                self.RESAMPLE,
                "Pixel size (auto: translate at the model's training pixel size when 1.5x off, then back)",
                RESAMPLES,
                defaultValue=0,
            )
        )
        self.addParameter(QgsProcessingParameterString(self.DEVICE, "Device (auto, cpu, cuda, cuda:N)", "auto"))
        self.addParameter(QgsProcessingParameterEnum(self.FORMAT, "Output format", FORMATS, defaultValue=0))
        exe = QgsProcessingParameterString(
            self.EXE, "geo2map executable (empty: GEO2MAP_EXE or PATH)", "", optional=True
        )
        exe.setFlags(exe.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(exe)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Translated raster"))

    # ------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: ANN001, ANN201 - QGIS signature
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException("INPUT is not a raster layer")
        src = layer.source()
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        options = {
            "model": self.parameterAsString(parameters, self.MODEL, context).strip(),
            "bidx": self.parameterAsString(parameters, self.BANDS, context).strip() or None,
            "tile_size": self.parameterAsInt(parameters, self.TILE_SIZE, context) or None,
            "overlap": self._overlap(parameters, context),
            "blend": BLENDS[self.parameterAsEnum(parameters, self.BLEND, context)],
            "resample": RESAMPLES[self.parameterAsEnum(parameters, self.RESAMPLE, context)],
            "device": self.parameterAsString(parameters, self.DEVICE, context).strip() or "auto",
            "cog": self.parameterAsEnum(parameters, self.FORMAT, context) == 1,
        }
        if not options["model"]:
            raise QgsProcessingException("MODEL is empty: give a built-in model name or a model file")
        exe = (
            self.parameterAsString(parameters, self.EXE, context).strip()
            or os.environ.get("GEO2MAP_EXE", "")
            or (DEFAULT_EXE if os.path.isfile(DEFAULT_EXE) else "")
            or shutil.which("geo2map")
            or ""
        )
        if exe:
            self._run_executable(exe, src, out, options, feedback)
        else:
            self._run_library(src, out, options, feedback)
        if feedback.isCanceled():
            return {}
        return {self.OUTPUT: out}

    def _overlap(self, parameters, context):  # noqa: ANN001, ANN202
        value = self.parameterAsInt(parameters, self.OVERLAP, context)
        return None if value < 0 else value

    @staticmethod
    def _arguments(exe: str, src: str, out: str, o: dict) -> list[str]:
        args = [exe, "translate", src, "-o", out, "--model", o["model"], "--blend", o["blend"]]
        args += ["--device", o["device"], "--overwrite", "--progress-lines", "--quiet"]
        if o["bidx"]:
            args += ["--bidx", o["bidx"]]
        if o["tile_size"]:
            args += ["--tile-size", str(o["tile_size"])]
        if o["overlap"] is not None:
            args += ["--overlap", str(o["overlap"])]
        if o["resample"] != "auto":  # the default is left out, for older geo2map executables
            args += ["--resample", o["resample"]]
        if o["cog"]:
            args.append("--cog")
        return args

    def _run_executable(self, exe: str, src: str, out: str, options: dict, feedback) -> None:  # noqa: ANN001
        args = self._arguments(exe, src, out, options)
        feedback.pushCommandInfo(" ".join(args))
        try:
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        except OSError as exc:
            raise QgsProcessingException(f"cannot run geo2map ({exe}): {exc}") from None
        stderr = proc.stderr
        assert stderr is not None  # stderr=PIPE
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            for ln in stderr:
                lines.put(ln)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        errors: list[str] = []
        while True:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                line = None
            if line is not None:
                self._report(line.strip(), feedback, errors)
            if feedback.isCanceled() and proc.poll() is None:
                proc.terminate()  # geo2map removes its temporary output and exits 130
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                reader.join(timeout=5)
                stderr.close()
                feedback.pushInfo("geo2map stopped: canceled")
                return
            if line is None and proc.poll() is not None and not reader.is_alive() and lines.empty():
                break
        stderr.close()
        if proc.returncode != 0:
            raise QgsProcessingException(errors[-1] if errors else f"geo2map exited with code {proc.returncode}")

    @staticmethod
    def _report(line: str, feedback, errors: list[str]) -> None:  # noqa: ANN001
        if not line:
            return
        if line.startswith("geo2map-progress "):
            done, total = (int(v) for v in line.split()[1:3])
            feedback.setProgress(100.0 * done / max(total, 1))
        elif line.startswith("Error:"):
            errors.append(line[len("Error:") :].strip())
            feedback.reportError(line)
        else:
            feedback.pushInfo(line)

    def _run_library(self, src: str, out: str, o: dict, feedback) -> None:  # noqa: ANN001
        try:
            import geo2map
        except ImportError:
            raise QgsProcessingException(
                "geo2map was not found: install it (pip install geo2map) and set the 'geo2map executable' "
                "parameter or the GEO2MAP_EXE environment variable to its 'geo2map' command"
            ) from None

        class Canceled(Exception):
            pass

        def progress(done: int, total: int) -> None:
            if feedback.isCanceled():
                raise Canceled
            feedback.setProgress(100.0 * done / max(total, 1))

        try:
            geo2map.translate_raster(
                src,
                out,
                o["model"],
                bidx=o["bidx"],
                tile_size=o["tile_size"],
                overlap=o["overlap"],
                blend=o["blend"],
                resample=o["resample"],
                device=o["device"],
                preset="cog" if o["cog"] else "deflate",
                overwrite=True,
                progress=progress,
            )
        except Canceled:
            feedback.pushInfo("geo2map stopped: canceled")
        except Exception as exc:  # noqa: BLE001 - geo2map's errors are one line
            raise QgsProcessingException(str(exc)) from None
