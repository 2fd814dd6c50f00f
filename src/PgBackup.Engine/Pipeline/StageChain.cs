using System;
using System.Collections.Generic;
using System.IO;

namespace PgBackup
{
    /// <summary>
    /// The write side of a pipeline: stages stacked on a sink stream, each writing into the next. Stages are added
    /// from the sink upwards (hash, then encrypt, then compress, then count); <see cref="Complete"/> closes them from
    /// the top down, so that each writes its trailer (gzip footer, OpenPGP closing packets) into the one below before
    /// that one is closed. The sink itself stays open (the store's writer commits or aborts it).
    /// </summary>
    public sealed class StageChain : IDisposable
    {
        private readonly List<Stream> _stages = new List<Stream>();
        private bool _completed;

        public StageChain(Stream sink)
        {
            Top = sink;
        }

        /// <summary>Where the source writes: the uppermost stage.</summary>
        public Stream Top { get; private set; }

        /// <summary>Adds a stage on top; <paramref name="create"/> gets the current top and must leave it open.</summary>
        public T Add<T>(Func<Stream, T> create) where T : Stream
        {
            var stage = create(Top);
            _stages.Add(stage);
            Top = stage;
            return stage;
        }

        /// <summary>Closes every stage, top first, writing their trailers.</summary>
        public void Complete()
        {
            if (_completed) return;
            _completed = true;
            for (int i = _stages.Count - 1; i >= 0; i--) _stages[i].Dispose();
        }

        /// <summary>Releases the stages without caring about their output (after a failure).</summary>
        public void Dispose()
        {
            if (_completed) return;
            _completed = true;
            for (int i = _stages.Count - 1; i >= 0; i--)
            {
                try { _stages[i].Dispose(); }
                catch (Exception e) when (e is IOException || e is ObjectDisposedException || e is InvalidOperationException || e is PgBackupException) { }
            }
        }
    }
}
