"""The built-in tools, with rs-llmspell's names; one module per family.

:func:`builtin_tools` makes a fresh instance of each (the Runtime's ToolService registers them).
Network tools are off unless allowed; a tool that cannot work on this machine (no engine
configured, a missing program or library) says why in ``available()``.
"""

from __future__ import annotations

from typing import Any

from llmspell.config import Config
from llmspell.tools.base import Tool
from llmspell.tools.builtins.archive import ArchiveHandler
from llmspell.tools.builtins.audio import AudioProcessor
from llmspell.tools.builtins.calculator import Calculator
from llmspell.tools.builtins.convert import FileConverter, FileWatcher
from llmspell.tools.builtins.crawl import SitemapCrawler, WebpageMonitor, WebScraper
from llmspell.tools.builtins.data import CsvAnalyzer, DataValidation, JsonProcessor
from llmspell.tools.builtins.database import DatabaseConnector
from llmspell.tools.builtins.datetime_handler import DateTimeHandler
from llmspell.tools.builtins.email_sender import EmailSender
from llmspell.tools.builtins.encoding import Base64Encoder, HashCalculator, UuidGenerator
from llmspell.tools.builtins.files import FileOperations, FileSearch
from llmspell.tools.builtins.image import ImageProcessor
from llmspell.tools.builtins.monitor import SystemMonitor
from llmspell.tools.builtins.process import ProcessExecutor
from llmspell.tools.builtins.search import WebSearch
from llmspell.tools.builtins.system import EnvironmentReader
from llmspell.tools.builtins.text import DiffCalculator, TemplateEngine, TextManipulator
from llmspell.tools.builtins.video import VideoProcessor
from llmspell.tools.builtins.web import (
    ApiTester,
    GraphqlQuery,
    HttpRequest,
    ServiceChecker,
    UrlAnalyzer,
    WebhookCaller,
)

BUILTINS: tuple[type[Tool], ...] = (
    Calculator, Base64Encoder, HashCalculator, UuidGenerator, DateTimeHandler,
    TextManipulator, JsonProcessor, DataValidation, TemplateEngine, DiffCalculator,
    CsvAnalyzer, FileOperations, FileSearch, EnvironmentReader, ArchiveHandler,
    ProcessExecutor, FileConverter, FileWatcher, SystemMonitor,
    HttpRequest, ServiceChecker, UrlAnalyzer, WebhookCaller, GraphqlQuery, ApiTester,
    WebScraper, SitemapCrawler, WebpageMonitor, DatabaseConnector, WebSearch,
    EmailSender, ImageProcessor, AudioProcessor, VideoProcessor,
)


def builtin_tools(config: Any = None) -> list[Tool]:
    """One new instance of every built-in tool; the tools with settings of their own
    (``[tools.*]``) read them from ``config`` (default: the schema's defaults)."""
    if config is None:
        config = Config.defaults()
    return [cls.from_config(config) for cls in BUILTINS]
