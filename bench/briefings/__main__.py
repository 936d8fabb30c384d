import sys

from bench.briefings.measure import main

sys.exit(main())
