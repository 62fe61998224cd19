"""``python -m zq.worker CONFIG_JSON``: one worker child, started by the supervisor."""

import sys

from zq.worker.child import main

sys.exit(main())
