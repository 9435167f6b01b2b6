from abatch.cli import main

raise SystemExit(main())
